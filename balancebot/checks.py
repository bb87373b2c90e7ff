"""One balance check end to end: fetch → evaluate → alert transitions → outbox → store.

The fetching half is here, the recording half in `record.py`, the safety net around both
(secrets scrubbed, tracebacks once, a self alert for checks that keep breaking) in
`checkguard.py`; what the checks found is the read model in `memory.py`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .checkguard import CheckGuard
from .clock import Clock
from .config import AccountConfig, Config
from .crew import Crew
from .errors import LeaseLost, StoreError
from .memory import AccountMemory, interned
from .models import CheckFailure, CheckResult, Notification
from .providers.aio import BalanceFetcher, fetch_result
from .record import CheckOutcome, Recorder
from .retry import Backoff
from .rules import watched_currencies
from .store import OutboxEntry, Store
from .store.leases import CheckLease
from .unrecorded import Unrecorded

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger(__name__)


class CheckPipeline(Recorder):
    """Fetches (bounded, one check per account at a time), then records (`record.py`);
    every check runs in one crew, so shutdown abandons them together."""

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
        self.health = store.health
        self.health.clock = clock
        self._guard = CheckGuard(self.health, clock, metrics)
        self._locks: dict[str, asyncio.Lock] = {}
        self.reconfigure(config, providers, targets)
        self._crew = Crew("checks")  # every check runs in it: abandoned together at shutdown
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
        self._guard.configure(config)
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
            self._guard.trace_once(account_name, exc, "check %s ended unexpectedly: %s")

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
                    result = self._guard.internal_failure(account, exc)
            result = self._guard.without_secrets(result)
            try:
                outcome = await self._record(account, provider, result, lease)
            except LeaseLost:
                raise  # another replica has the account now: not store trouble
            except StoreError as exc:
                self._guard.not_recorded(account_name, exc)
                raise
            except Exception as exc:  # a rule or rendering bug: record that instead
                result = self._guard.internal_failure(account, exc)
                outcome = await self._record(account, provider, result, lease)
            self._guard.watch_internal(account_name, result)
        self._guard.finished(account_name, result, time.perf_counter() - started)
        if not isinstance(result, CheckFailure):
            self.memory.succeeded(account_name, result.taken_at)
        if account_name not in self._accounts:  # removed by a reload while it ran
            self.memory.forget(account_name)
        return outcome

    def remember_told(self, entries: list[OutboxEntry]) -> None:
        """Notices queued outside a check (a mute's release): what they told, in memory."""
        self.memory.remember_told(entries)
