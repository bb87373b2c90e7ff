"""Checks claimed from the store's shared schedule, for several replicas on PostgreSQL.

A single instance (SQLite) runs one APScheduler interval job per account. Replicas cannot:
each would check every account. Instead each account's next check is a row
(`store/leases.py`), and every replica's scheduler ticks `SharedSweep.tick` twice a second;
a tick claims as many due accounts as it has room for (`FOR UPDATE SKIP LOCKED`, so two
replicas never claim the same one) and runs their checks. A replica killed mid-check
leaves its accounts to the others at once: its claims are void when the liveness lock its
dispatcher holds is gone (`leases.owner_dead`; else once their leases run out). So a
replica claims only while it holds that lock (`live`).

Before checking, the pipeline re-reads the account's alert states and recent history from
the store: the last check may have run on another replica.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from .checks import CheckPipeline
from .clock import Clock
from .config import AccountConfig, Config
from .config.durations import CheckInterval, spell
from .crew import Crew
from .errors import LeaseLost, StoreError
from .health import Health
from .store import Store
from .store.leases import CheckLease

log = logging.getLogger(__name__)

COMPARE_EVERY = timedelta(minutes=5)
"""How often a replica compares its configuration with the others'."""
STALE_AFTER = timedelta(days=1)
"""A schedule row due this long ago (and at least three intervals) is no replica's: removed."""

TICK_SECONDS = 0.5


def default_jitter(account: AccountConfig) -> timedelta:
    """Spread checks a little so many accounts don't hit the API in the same second (the
    same default whether one instance schedules them or replicas share them)."""
    return (
        account.jitter
        if account.jitter is not None
        else min(account.check_interval / 10, timedelta(seconds=30))
    )


def cannot_schedule(health: Health, account: str, exc: Exception, after: datetime) -> datetime:
    """A next check time that cannot be represented (a year past 9999) is said as a self
    alert (`schedule:<account>`), and the check comes after the longest interval there is:
    a schedule never stops without a word."""
    fallback = CheckInterval.HIGH
    health.report(
        f"schedule:{account}",
        f"cannot compute when to check {account} next ({exc}): checking it every "
        f"{spell(fallback)} instead; fix its check_interval and jitter",
    )
    return after + fallback


def lease_for(account: AccountConfig) -> timedelta:
    """Longer than a check's attempts take, so a live check normally keeps its lease; short,
    so a dead replica's accounts come due again soon. A check that outlives it (a long
    `Retry-After`) may be taken over: the store then refuses the old owner's results
    (`Store.save_check` with a lease owner), so the worst case is one extra fetch."""
    return account.timeout * 3 + timedelta(seconds=1)


class SharedSweep:
    def __init__(
        self,
        config: Config,
        store: Store,
        pipeline: CheckPipeline,
        clock: Clock,
        owner: str,
        rng: random.Random | None = None,
        live: Callable[[], bool] = lambda: True,
    ) -> None:
        self._config = config
        self._store = store
        self._pipeline = pipeline
        self._clock = clock
        self.owner = owner
        self._live = live  # other replicas see `owner` alive: its claims hold
        self._rng = rng or random.Random()
        self.on_checked: Callable[[str, datetime], None] | None = None
        """Told of each check this replica made (name, when it began): the heartbeat."""
        self._accounts: dict[str, AccountConfig] = {a.name: a for a in config.accounts}
        self._crew = Crew("sweep")  # its checks and claims: cancelled together at `stop`
        self._checking: set[str] = set()  # accounts whose checks run here now
        self._changed = asyncio.Event()  # a check or a claim here ended (for `settle`)
        self._more_due = False
        self._claims_failing = False
        self._foreign: set[str] = set()  # in the schedule, not in this configuration
        self._fingerprint = config.fingerprint()
        self._configurations: set[str] = set()  # of the replicas connected, last compared
        self._compared_at: datetime | None = None
        self._stopping = self._stopped = False
        self._refilling = False
        self._longest_lease = max(lease_for(a) for a in config.accounts)
        self._unscheduled: set[str] = set()  # added by a reload, not yet in the schedule

    async def register(self, names: Iterable[str] | None = None) -> None:
        """Accounts (`names`, default all) new to the schedule are due now; the others keep
        their times."""
        now = self._clock.now()
        longest = min(max(a.check_interval for a in self._config.accounts), CheckInterval.HIGH)
        stale_before = now - max(STALE_AFTER, 3 * longest)
        due = {name: now for name in (self._accounts if names is None else names)}
        await self._store.schedule_accounts(due, stale_before)
        await self.compare_configurations()

    async def reconfigure(self, config: Config) -> None:
        """A reloaded configuration: the accounts it adds are due now; those it removes are
        no longer claimed here (a replica still listing them checks them). A check running
        for a removed account finishes."""
        before = set(self._accounts)
        self._config = config
        self._accounts = {a.name: a for a in config.accounts}
        self._foreign = (self._foreign | before) - set(self._accounts)
        self._fingerprint = config.fingerprint()
        self._longest_lease = max(lease_for(a) for a in config.accounts)
        self._unscheduled |= set(self._accounts) - before
        await self._schedule_added()

    async def _schedule_added(self) -> None:
        """The accounts a reload added, into the shared schedule (retried each tick while
        the store cannot take them)."""
        try:
            await self.register(self._unscheduled)
        except StoreError as exc:  # the store's health alerts: one line here
            log.warning("cannot schedule the accounts a reload added (retrying): %s", exc)
            return
        self._unscheduled.clear()

    async def tick(self) -> None:
        """Claim what this replica has room for and start those checks; returns at once.

        Also called as checks finish while more were due (a claim came back full), so a big
        sweep is not paced by the tick: claims go in batches of half the room."""
        room = self._config.max_concurrent_checks - len(self._checking)
        if room <= 0 or self._stopping or not self._live():
            return
        if self._unscheduled:
            await self._schedule_added()
        now = self._clock.now()
        if self._compared_at is None or now - self._compared_at >= COMPARE_EVERY:
            await self.compare_configurations()
        try:
            claimed = await self._store.claim_due_checks(
                self.owner, now, self._longest_lease, room, self._foreign
            )
        except StoreError as exc:  # the store's health says so, and alerts: one line here
            if not self._claims_failing:
                log.warning("cannot claim due checks (retrying every tick): %s", exc)
            self._claims_failing = True
            return
        if self._claims_failing:
            log.info("claiming due checks works again")
            self._claims_failing = False
        self._more_due = len(claimed) == room
        foreign = [name for name in claimed if name not in self._accounts]
        if foreign:
            await self._hand_back(foreign)
        fresh = [name for name in claimed if name in self._accounts and name not in self._checking]
        if not fresh:
            return
        self._checking.update(fresh)
        # the claim's accounts are read back in one go (their last checks may have run on
        # another replica), not one read per check
        read = await self._crew.spawn(self._read_back(fresh), "sweep read-back")
        for name in fresh:
            await self._crew.spawn(self._check(name, read), f"check {name}")

    async def _read_back(self, names: list[str]) -> bool:
        try:
            await self._pipeline.refresh(*names)
        except Exception:  # each check reads its own account instead
            return False
        return True

    async def compare_configurations(self) -> None:
        """Say (once per change) while the replicas connected run different configurations:
        with different rules an alert may fire and resolve as they take turns."""
        self._compared_at = self._clock.now()
        try:
            seen = await self._store.configurations()
        except StoreError:
            return  # the store's trouble is told elsewhere
        if len(seen) > 1 and seen != self._configurations:
            log.warning(
                "replicas run %d different configurations (%s; this one %s): their accounts, "
                "rules or routes differ, and alerts may flip as they take turns",
                len(seen),
                ", ".join(sorted(seen)),
                self._fingerprint,
            )
        elif len(seen) <= 1 < len(self._configurations):
            log.info("replicas run one configuration again (%s)", self._fingerprint)
        self._configurations = seen

    async def _hand_back(self, foreign: list[str]) -> None:
        """Accounts another replica's configuration lists and this one's does not (a rolling
        change, or replicas run with different files): due again at once for that replica,
        and never claimed here again."""
        self._foreign.update(foreign)
        log.warning(
            "the shared schedule lists %d account(s) this configuration does not (%s): "
            "another replica runs a different configuration; leaving them to it",
            len(self._foreign),
            ", ".join(sorted(self._foreign)[:5]) + (", ..." if len(self._foreign) > 5 else ""),
        )
        try:
            await self._store.release_checks(self.owner, self._clock.now(), foreign)
        except StoreError as exc:  # their leases expire instead
            log.warning("cannot hand back checks of other configurations: %s", exc)

    async def _check(self, name: str, read: asyncio.Task[bool | None]) -> None:
        """The check's results and its next time are written in one transaction (under the
        lease); only when that write did not happen is the check rescheduled on its own."""
        account = self._accounts[name]
        started = self._clock.now()
        jitter = default_jitter(account).total_seconds()
        try:
            later = timedelta(seconds=self._rng.uniform(0, jitter)) + account.check_interval
            next_at = started + later
        except OverflowError as exc:
            next_at = cannot_schedule(self._pipeline.health, name, exc, started)
        written = handed_back = False
        try:
            if not await _succeeded(read):  # one bad account must not sink its batch
                await self._pipeline.refresh(name)
            await self._pipeline.check(name, CheckLease(self.owner, next_at))
            written = True
            if self.on_checked is not None:
                self.on_checked(name, started)
        except LeaseLost as exc:
            written = True  # the replica that took it over schedules it
            log.warning("check %s: results dropped: %s", name, exc)
        except Exception:  # the pipeline records failures itself; this is a bug's last stop
            log.exception("check %s ended unexpectedly", name)
        except asyncio.CancelledError:
            handed_back = self._stopping  # `stop` hands it back, due now
            raise
        finally:
            self._checking.discard(name)
            if not written and not handed_back:
                await self._reschedule(name, next_at)
            await self._refill()
            self._changed.set()

    async def _reschedule(self, name: str, next_at: datetime) -> None:
        try:
            if not await self._store.finish_check(name, self.owner, next_at):
                log.warning("check %s outlived its lease; another replica took it", name)
        except Exception as exc:
            log.warning("check %s: cannot reschedule (%s); its lease will expire", name, exc)

    async def _refill(self) -> None:
        half = self._config.max_concurrent_checks // 2
        if self._stopping:
            return
        if self._more_due and len(self._checking) <= half and not self._refilling:
            self._refilling = True
            await self._crew.spawn(self._claim_more(), "sweep refill")

    async def _claim_more(self) -> None:
        try:
            await self.tick()
        except Exception as exc:  # the next tick tries again
            log.warning("claiming due checks failed: %s", exc)
        finally:
            self._refilling = False
            self._changed.set()

    async def settle(self) -> None:
        """Until the checks this replica is running (and any claims they led to) are done."""
        while self._checking or self._refilling:
            self._changed.clear()
            await self._changed.wait()

    async def stop(self) -> None:
        """Cancel the checks running here and hand their accounts back due now, so another
        replica checks them at once (not an interval later, nor after their leases)."""
        if self._stopped:
            return
        self._stopping = self._stopped = True
        await self._crew.stop()
        try:
            await self._store.release_checks(self.owner, self._clock.now())
        except StoreError as exc:
            log.warning("cannot hand back unfinished checks (%s); their leases will expire", exc)


async def _succeeded(task: asyncio.Task[bool | None]) -> bool:
    """Whether `task`, shared by several checks, ended well; shielded, so a check cancelled
    while waiting does not cancel it for the others."""
    try:
        return await asyncio.shield(task) is True
    except asyncio.CancelledError:
        if not task.done():
            raise  # this check was cancelled, not the read
        return False
