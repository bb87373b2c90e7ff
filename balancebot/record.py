"""What a fetched result does: the rules evaluate it against the account's history, alert
states advance, the notices are planned (`notify/`: silences, quiet hours, routes,
inhibition, what each route was told), and result, states and notices are stored in one
transaction. The read model (`memory.py`) follows only once the store took them; when it
cannot, what the check saw is still told (`unrecorded.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo

from .alerts import Policy, advance
from .clock import Clock
from .config import AccountConfig, Config
from .crew import Crew
from .errors import StoreError
from .memory import AccountMemory
from .models import (
    AlertState,
    CheckResult,
    Currency,
    Notification,
    Silence,
    Transition,
    TransitionKind,
)
from .notify import Alert, Context, firing_labels, labelled, plan
from .providers.aio import BalanceFetcher
from .render import notification_for
from .rules import evaluate, watched_currencies
from .store import OutboxEntry, Store
from .store.leases import CheckLease
from .unrecorded import Unrecorded


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    result: CheckResult
    transitions: list[Transition]


class Recorder:
    """The recording half of `CheckPipeline` (checks.py), which sets these."""

    memory: AccountMemory
    unrecorded: Unrecorded
    listeners: list[Callable[[Notification, bool], None]]
    _store: Store
    _clock: Clock
    _config: Config
    _zone: tzinfo
    _targets: Mapping[str, list[str]]
    _accounts: dict[str, AccountConfig]
    _watched: dict[str, frozenset[Currency]]
    _crew: Crew
    _on_outbox: Callable[[], None]

    async def _record(
        self,
        account: AccountConfig,
        provider: BalanceFetcher,
        result: CheckResult,
        lease: CheckLease | None = None,
    ) -> CheckOutcome:
        memory = self.memory
        history = [*memory.history(account.name), result]
        now = self._clock.now()
        changed: list[AlertState] = []
        transitions: list[Transition] = []
        rules = self._config.rules_for(account.name)
        # a reload may have removed the account while this check ran
        watched = self._watched.get(account.name) or watched_currencies(rules)
        for rule in rules:
            for finding in evaluate(rule, result, history, watched):
                before = memory.state(finding.key) or AlertState(finding.key)
                after, transition = advance(before, finding, now, Policy.of(rule))
                if after != before:
                    changed.append(after)
                if transition is not None:
                    transitions.append(transition)

        entries: list[OutboxEntry] = []
        recorded: list[tuple[Notification, bool]] = []
        silences: list[Silence] = []
        if transitions:
            silences = await self.unrecorded.silences(self._store, now)
            alerts = [
                Alert(t, labelled(notice, account.provider, account.labels))
                for t in transitions
                for notice in [notification_for(t, result, provider.display_name, self._zone)]
            ]
            context = Context(
                now=now,
                zone=self._zone,
                silences=silences,
                quiet_hours=self._config.quiet_hours,
                routes=self._config.routes_for,
                targets=self._targets,
                told=memory.told,
                inhibit=self._config.inhibit,
                firing=firing_labels(
                    {**memory.states(), **{s.key: s for s in changed}}.values(), self._accounts
                )
                if self._config.inhibit
                else (),
            )
            alerts, entries = plan(alerts, context)
            recorded = [(alert.notification, alert.muted) for alert in alerts]

        try:
            kept = self.unrecorded.with_kept(account.name, changed)
            sent = self.unrecorded.told(account.name)
            await self._store.save_check(result, kept, [*sent, *entries], now, lease)
        except StoreError:  # tell what it sees anyway, and keep its states for the next
            self.unrecorded.keep(account.name, changed)
            memory.remember(changed, entries)
            await self._crew.spawn(self.unrecorded.tell(entries), "unrecorded notices")
            raise
        self.unrecorded.saved(account.name)
        # memory follows the store only once the transaction committed
        memory.record(result, changed, entries)
        if entries:
            self._on_outbox()
        for notification, muted in recorded:
            for listener in self.listeners:
                listener(notification, muted)
        for transition in transitions:  # an until-resolved mute ends with its alert
            if transition.kind is TransitionKind.RESOLVED and any(
                s.until_resolved and s.matches(transition.key, now) for s in silences
            ):
                await self._store.end_resolved_silences(transition.key, now)
        return CheckOutcome(result, transitions)
