"""APScheduler in the daemon's event loop: one interval job per account, or, with replicas
sharing a PostgreSQL store, one job that claims due checks from it (`sweep.py`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .checks import CheckPipeline
from .config import AccountConfig, Config
from .health import Health
from .sweep import TICK_SECONDS, SharedSweep, cannot_schedule, default_jitter

HOUSEKEEPING_INTERVAL = timedelta(hours=6)
log = logging.getLogger(__name__)


class _StoppedJobs(logging.Filter):
    """APScheduler 3 logs a job its own shutdown cancelled as "Error running job" with a
    traceback (even one cancelled before it began, which no job body can catch); at
    shutdown that is how a running job is meant to end."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            log.debug("stopped at shutdown: %s", record.getMessage())
            return False
        return True


_STOPPED_JOBS = _StoppedJobs()


class OverrunJobs(logging.Filter):
    """APScheduler warns each time it skips a job's run because the last one is still
    running: an account checked every second whose provider takes two seconds to fail
    (retries included) was a warning every second. Said once per job in `every` seconds;
    the rest at DEBUG."""

    def __init__(self, every: float = 3600.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._every, self._clock = every, clock
        self._said: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" not in str(record.msg) or not record.args:
            return True
        job = record.args[0] if isinstance(record.args, tuple) else None
        key, now = str(getattr(job, "id", job)), self._clock()
        if now - self._said.get(key, -self._every) < self._every:
            log.debug("%s", record.getMessage())
            return False
        self._said[key] = now
        said = record.getMessage()
        record.msg, record.args = "%s (it is still running; said once an hour)", (said,)
        return True


_OVERRUN_JOBS = OverrunJobs()


class CheckTrigger(IntervalTrigger):  # type: ignore[misc]  # apscheduler is untyped
    """An account's check interval. A next time it cannot compute (a year past 9999) was
    a schedule that stopped without a word; it is a self alert (`cannot_schedule`)."""

    def __init__(self, account: str, health: Health, **interval: Any) -> None:
        # from now (the first check runs at start-up): APScheduler's own default, now plus
        # the interval, is the first time that may not be representable
        super().__init__(start_date=datetime.now(UTC), **interval)
        self._account, self._health = account, health

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        try:
            found: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        except (OverflowError, ValueError, OSError) as exc:
            return cannot_schedule(self._health, self._account, exc, previous_fire_time or now)
        return found


def build_scheduler(
    config: Config,
    pipeline: CheckPipeline,
    housekeeping: Callable[[], Awaitable[object]],
    digest: Callable[[], Awaitable[object]],
    check: Callable[[str], Awaitable[object]] | None = None,
    sweep: SharedSweep | None = None,
) -> AsyncIOScheduler:
    """Must be called, and started, inside the running loop (apscheduler #994). `check`
    (one account) defaults to the pipeline's."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    logging.getLogger("apscheduler.executors.default").addFilter(_STOPPED_JOBS)  # idempotent
    logging.getLogger("apscheduler.scheduler").addFilter(_OVERRUN_JOBS)
    _add_digest(scheduler, config, digest)
    scheduler.add_job(
        housekeeping,
        IntervalTrigger(seconds=HOUSEKEEPING_INTERVAL.total_seconds(), timezone=UTC),
        id="housekeeping",
        next_run_time=datetime.now(UTC) + timedelta(minutes=1),
        max_instances=1,
        coalesce=True,
    )
    if sweep is not None:
        scheduler.add_job(
            sweep.tick,
            IntervalTrigger(seconds=TICK_SECONDS, timezone=UTC),
            id="sweep",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        return scheduler
    for account in config.accounts:
        _add_check(scheduler, account, check or pipeline.scheduled_check, pipeline.health)
    return scheduler


def _add_check(
    scheduler: AsyncIOScheduler,
    account: AccountConfig,
    check: Callable[[str], Awaitable[object]],
    health: Health,
) -> None:
    interval = account.check_interval.total_seconds()
    scheduler.add_job(
        check,
        CheckTrigger(
            account.name,
            health,
            seconds=interval,
            jitter=default_jitter(account).total_seconds() or None,
            timezone=UTC,
        ),
        args=[account.name],
        id=f"check:{account.name}",
        name=f"check {account.name}",
        next_run_time=datetime.now(UTC),  # first check at start-up
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(interval)),
        replace_existing=True,
    )


def _add_digest(
    scheduler: AsyncIOScheduler, config: Config, digest: Callable[[], Awaitable[object]]
) -> None:
    if config.digest.schedule is not None:
        scheduler.add_job(
            digest,
            CronTrigger.from_crontab(config.digest.schedule, timezone=config.zone),
            id="digest",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,  # a digest an hour late still helps
            replace_existing=True,
        )


def follow(
    scheduler: AsyncIOScheduler,
    old: Config,
    new: Config,
    check: Callable[[str], Awaitable[object]],
    digest: Callable[[], Awaitable[object]],
    health: Health,
    swept: bool,
) -> None:
    """Jobs for a reloaded configuration: the digest's schedule, and (without a shared
    sweep) a job per account: removed ones go (a check running finishes), added ones and
    ones whose interval or jitter changed are checked now and then on their new schedule."""
    if (old.digest.schedule, old.timezone) != (new.digest.schedule, new.timezone):
        if scheduler.get_job("digest") is not None:
            scheduler.remove_job("digest")
        _add_digest(scheduler, new, digest)
    if swept:
        return
    before = {a.name: a for a in old.accounts}
    after = {a.name for a in new.accounts}
    for name in set(before) - after:
        if scheduler.get_job(f"check:{name}") is not None:
            scheduler.remove_job(f"check:{name}")
    for account in new.accounts:
        was = before.get(account.name)
        if was is None or (was.check_interval, was.jitter) != (
            account.check_interval,
            account.jitter,
        ):
            _add_check(scheduler, account, check, health)
