"""A check slower than its interval: APScheduler's "skipped: maximum number of running
instances reached" warning, once per job an hour, not once a second."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from balancebot.scheduler import OverrunJobs

# APScheduler 3's own call (schedulers/base.py), so the filter sees what it will see
FORMAT = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'


def test_a_job_that_overruns_every_tick_is_said_once_an_hour(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    # a logger of its own: a daemon built by an earlier test in this process left the
    # module's filter on "apscheduler.scheduler", with the real clock
    logger = logging.getLogger("tests.apscheduler.scheduler")
    overrun = OverrunJobs(every=3600, clock=lambda: now[0])
    logger.addFilter(overrun)
    prod, staging = SimpleNamespace(id="check:prod"), SimpleNamespace(id="check:staging")
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            for second in range(600):  # ten minutes of a 1 s interval, each run skipped
                now[0] = float(second)
                logger.warning(FORMAT, prod, 1)
            logger.warning(FORMAT, staging, 1)  # another job: its own first warning
            now[0] = 3600.0
            logger.warning(FORMAT, prod, 1)  # an hour on: said again
            logger.warning("Scheduler started")  # anything else passes untouched
    finally:
        logger.removeFilter(overrun)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == [
        f'Execution of job "{prod}" skipped: maximum number of running instances reached (1)'
        " (it is still running; said once an hour)",
        f'Execution of job "{staging}" skipped: maximum number of running instances reached (1)'
        " (it is still running; said once an hour)",
        f'Execution of job "{prod}" skipped: maximum number of running instances reached (1)'
        " (it is still running; said once an hour)",
        "Scheduler started",
    ]
