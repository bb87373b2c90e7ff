"""One balance check end to end: fetch → store → evaluate → alert transitions → outbox."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zoneinfo
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .alerts import Policy, advance
from .clock import Clock
from .config import AccountConfig, Config
from .models import AlertKey, AlertState, CheckFailure, CheckResult, Transition
from .providers import BalanceFetcher, fetch_result
from .render import notification_for
from .retry import Backoff
from .rules import evaluate, history_needed
from .store import OutboxEntry, Store

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger(__name__)


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
        self._config = config
        self._store = store
        self._providers = providers
        self._targets = targets
        self._clock = clock
        self._on_outbox = on_outbox
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._zone = zoneinfo.ZoneInfo(config.timezone)
        self._bound = asyncio.Semaphore(config.max_concurrent_checks)
        self._states: dict[AlertKey, AlertState] = {}
        self._recent: dict[str, deque[CheckResult]] = {}
        self._accounts = {a.name: a for a in config.accounts}  # a sweep looks up every one
        self._locks = {a.name: asyncio.Lock() for a in config.accounts}
        self._in_flight: set[asyncio.Task[object]] = set()
        self._metrics = metrics
        self._last_success: dict[str, datetime] = {}

    async def load(self) -> None:
        """Pick up where the last run stopped: alert states and recent history."""
        self._states = await self._store.alert_states()
        for account in self._config.accounts:
            depth = history_needed(self._config.rules_for(account.name))
            recent = await self._store.recent_results(account.name, depth)
            self._recent[account.name] = deque(recent, maxlen=depth)
        self._last_success = await self._store.last_successes()

    def states(self) -> Mapping[AlertKey, AlertState]:
        return self._states

    def last_success(self, account: str) -> datetime | None:
        return self._last_success.get(account)

    def latest(self, account: str) -> CheckResult | None:
        recent = self._recent.get(account)
        return recent[-1] if recent else None

    async def abandon_in_flight(self) -> None:
        """Cancel running checks at shutdown; an unfinished check's transaction rolls back."""
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def check(self, account_name: str) -> CheckOutcome:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            return await self._check(account_name)
        finally:
            self._in_flight.discard(task)

    async def _check(self, account_name: str) -> CheckOutcome:
        account = self._accounts[account_name]
        provider = self._providers[account.provider]
        async with self._locks[account_name]:  # one check per account at a time, in order
            started = time.perf_counter()
            async with self._bound:
                result = await fetch_result(
                    provider, account, self._clock, self._backoff, self._rng
                )
            outcome = await self._record(account, provider, result)
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
            self._last_success[account_name] = result.taken_at
            log.info(
                "check %s ok in %.0f ms",
                account_name,
                elapsed * 1000,
                extra={**fields, "outcome": "ok"},
            )
        return outcome

    async def _record(
        self, account: AccountConfig, provider: BalanceFetcher, result: CheckResult
    ) -> CheckOutcome:
        recent = self._recent.setdefault(account.name, deque(maxlen=1))
        history = [*recent, result]
        now = self._clock.now()
        changed: list[AlertState] = []
        transitions: list[Transition] = []
        for rule in self._config.rules_for(account.name):
            for finding in evaluate(rule, result, history):
                before = self._states.get(finding.key, AlertState(finding.key))
                after, transition = advance(before, finding, now, Policy.of(rule))
                if after != before:
                    changed.append(after)
                if transition is not None:
                    transitions.append(transition)

        entries: list[OutboxEntry] = []
        if transitions:
            silences = await self._store.active_silences(now)
            for transition in transitions:
                notification = notification_for(
                    transition, result, provider.display_name, self._zone
                )
                muted = any(s.matches(transition.key, now) for s in silences)
                for notifier in self._config.route(
                    transition.key.account, transition.key.rule, transition.severity
                ):
                    entries += [
                        OutboxEntry(notifier, target, notification, muted)
                        for target in self._targets.get(notifier, [""])
                    ]

        await self._store.save_check(result, changed, entries, now)
        # memory follows the store only once the transaction committed
        recent.append(result)
        for state in changed:
            self._states[state.key] = state
        if entries:
            self._on_outbox()
        return CheckOutcome(result, transitions)
