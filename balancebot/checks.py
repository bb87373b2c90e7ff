"""One balance check end to end: fetch → store → evaluate → alert transitions → outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .alerts import Policy, advance
from .clock import Clock
from .config import AccountConfig, Config
from .configure import config_secrets
from .crew import Crew
from .errors import LeaseLost, StoreError
from .memory import AccountMemory, interned
from .models import (
    AlertState,
    CheckFailure,
    CheckResult,
    FailureKind,
    Notification,
    Silence,
    Transition,
    TransitionKind,
)
from .notify import Alert, Context, firing_labels, labelled, plan
from .providers.aio import BalanceFetcher, fetch_result
from .providers.engine import internal_failure
from .redact import SecretMask
from .render import notification_for
from .retry import Backoff
from .rules import evaluate, watched_currencies
from .store import OutboxEntry, Store
from .store.leases import CheckLease
from .unrecorded import Unrecorded

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger(__name__)
INTERNAL_FAILURES_UNHEALTHY = 3
"""Internal failures in a row after which an account's checks count as broken (self alert)."""


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    result: CheckResult
    transitions: list[Transition]


class CheckPipeline:
    def __init__(
        self,
        config: Config,
        store: Store,
        providers: Mapping[str, BalanceFetcher],
        targets: Mapping[str, list[str]],
        clock: Clock,
        on_outbox: Callable[[], None] = lambda: None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_outbox = on_outbox
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self.memory = AccountMemory(config)
        """What the checks found: the read model every reader reads (memory.py)."""
        self._locks: dict[str, asyncio.Lock] = {}
        self.reconfigure(config, providers, targets)
        self._crew = Crew("checks")  # every check runs in it: abandoned together at shutdown
        self._metrics = metrics
        self._internal: dict[str, int] = {}  # account -> internal failures in a row
        self._traced: set[tuple[str, str]] = set()  # (account, exception type) logged in full
        self.health = store.health
        self.health.clock = clock
        self.unrecorded = Unrecorded()
        """Alert states and notices a check could not store (unrecorded.py)."""
        self.listeners: list[Callable[[Notification, bool], None]] = []
        """Told of each notification once stored, and whether a mute kept it from being sent
        (the demo says so); `Dispatcher.listeners` hear of the ones delivered."""

    def reconfigure(
        self,
        config: Config,
        providers: Mapping[str, BalanceFetcher],
        targets: Mapping[str, list[str]],
    ) -> None:
        """Check as `config` says from the next check on (a reload keeps the memory of the
        accounts it keeps: their alert states and what was told survive)."""
        self._config = config
        self._providers = providers
        self._targets = targets
        self._zone = config.zone
        self._bound = asyncio.Semaphore(config.max_concurrent_checks)
        # a sweep looks up every one
        self._accounts: dict[str, AccountConfig] = {a.name: a for a in config.accounts}
        self._locks = {a.name: self._locks.get(a.name) or asyncio.Lock() for a in config.accounts}
        self._watched = interned(
            {a.name: watched_currencies(config.rules_for(a.name)) for a in config.accounts}
        )
        self._mask = SecretMask(config_secrets(config))  # built once: thousands of keys
        self.memory.configure(config)

    async def load(self) -> None:
        """Pick up where the last run stopped: alert states and recent history."""
        await self.memory.read(self._store, self._clock)

    async def refresh(self, *accounts: str) -> None:
        """Re-read accounts' alert states and history: with replicas sharing the store, their
        last checks may have run elsewhere (`sweep.py` refreshes each claim in one read)."""
        memory = self.memory
        views = await self._store.account_views(memory.limits(accounts))
        for account, view in views.items():
            recent = await memory.read_history(self._store, self._clock, account, view)
            states = {**view.states, **self.unrecorded.states(account)}  # ours are newer
            memory.replace(account, recent, states, view.told)

    async def check_now(self, account: str) -> CheckResult:
        """`Checker.check_now`: a command's check, made now."""
        return (await self.check(account)).result

    async def abandon_in_flight(self) -> None:
        """Cancel running checks at shutdown; an unfinished check's transaction rolls back."""
        await self._crew.stop()

    async def check(self, account_name: str, lease: CheckLease | None = None) -> CheckOutcome:
        """`lease`: with replicas (`sweep.py`), the results are stored only while its owner
        still holds the account's check lease, and the next check is scheduled with them."""
        return await self._crew.call(self._check(account_name, lease), f"check {account_name}")

    async def scheduled_check(self, account_name: str) -> None:
        """The scheduler's job: nothing escapes it (APScheduler would only log it, every
        time); store trouble has been told to `health`, which alerts without the store."""
        try:
            await self.check(account_name)
        except asyncio.CancelledError:  # abandoned at shutdown: no job error, no traceback
            log.debug("check of %s abandoned at shutdown", account_name)
        except StoreError:
            return  # logged by `check`, told to `health`
        except Exception as exc:
            self._trace_once(account_name, exc, "check %s ended unexpectedly: %s")

    async def _check(self, account_name: str, lease: CheckLease | None) -> CheckOutcome:
        account = self._accounts[account_name]
        provider = self._providers[account.provider]
        async with self._locks[account_name]:  # one check per account at a time, in order
            if self.memory.stale(account_name):  # new to a reloaded configuration
                with contextlib.suppress(StoreError):  # the check's write says so
                    await self.refresh(account_name)
            started = time.perf_counter()
            async with self._bound:
                try:
                    result = await fetch_result(
                        provider, account, self._clock, self._backoff, self._rng
                    )
                except Exception as exc:  # a bug, MemoryError, UnicodeEncodeError...
                    result = self._internal_failure(account, exc)
            result = self._scrubbed(result)
            try:
                outcome = await self._record(account, provider, result, lease)
            except LeaseLost:
                raise  # another replica has the account now: not store trouble
            except StoreError as exc:  # says its cause: one line (the chain at DEBUG)
                log.error("check %s not recorded: %s", account_name, self._mask.scrub(str(exc)))
                log.debug("check %s not recorded", account_name, exc_info=exc)
                raise
            except Exception as exc:  # a rule or rendering bug: record that instead
                result = self._internal_failure(account, exc)
                outcome = await self._record(account, provider, result, lease)
            self._watch_internal(account_name, result)
        elapsed = time.perf_counter() - started
        if self._metrics is not None:
            self._metrics.observe_check(result, elapsed)
        fields = {"account": account_name, "duration_ms": round(elapsed * 1000)}
        if isinstance(result, CheckFailure):
            log.warning(
                "check %s failed (%s) in %.0f ms: %s",
                account_name,
                result.kind.value,
                elapsed * 1000,
                result.message,
                extra={**fields, "outcome": result.kind.value},
            )
        else:
            self.memory.succeeded(account_name, result.taken_at)
            log.info(
                "check %s ok in %.0f ms",
                account_name,
                elapsed * 1000,
                extra={**fields, "outcome": "ok"},
            )
        if account_name not in self._accounts:  # removed by a reload while it ran
            self.memory.forget(account_name)
        return outcome

    def _trace_once(self, account: str, exc: BaseException, template: str) -> None:
        """The traceback the first time an error of this type hits this account, one line
        after that: never silent, never a log storm."""
        what = (account, type(exc).__name__)
        message = self._mask.scrub(f"{type(exc).__name__}: {exc}")
        log.error(template, account, message, exc_info=what not in self._traced)
        self._traced.add(what)

    def _internal_failure(self, account: AccountConfig, exc: BaseException) -> CheckFailure:
        self._trace_once(account.name, exc, "check %s failed inside balancebot: %s")
        return internal_failure(account, exc, self._clock.now())

    def _scrubbed(self, result: CheckResult) -> CheckResult:
        """The last line of defence: no failure message leaves here holding a secret or
        a header value, whatever raised it."""
        if not isinstance(result, CheckFailure):
            return result
        clean = self._mask.scrub(result.message)
        if clean == result.message:
            return result
        return CheckFailure(result.account, result.provider, result.taken_at, result.kind, clean)

    def _watch_internal(self, account: str, result: CheckResult) -> None:
        name = f"checks:{account}"
        if not (isinstance(result, CheckFailure) and result.kind is FailureKind.INTERNAL):
            self._internal.pop(account, None)
            self.health.clear(name)
            return
        count = self._internal[account] = self._internal.get(account, 0) + 1
        if count >= INTERNAL_FAILURES_UNHEALTHY:
            self.health.report(
                name,
                f"checks of {account} failed inside balancebot {count} times in a row: "
                f"{result.message}",
            )

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

    def remember_told(self, entries: list[OutboxEntry]) -> None:
        """Notices queued outside a check (a mute's release): what they told, in memory."""
        self.memory.remember_told(entries)
