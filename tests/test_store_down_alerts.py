"""A balance alert still goes out while the store cannot be written, marked as not
recorded, and is not sent again when the store comes back (issue 21 §5: on main only the
self alert went out; the balance alert itself never did)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from balancebot.commands.access import Caller
from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.errors import StoreError
from balancebot.models import AlertKey, AlertStatus, Notification
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY, SUMMARY
from .test_pipeline import Recorder
from .test_self_watch import one_account

KEY = AlertKey("prod", "low", "CNY")


class Heard(Recorder):
    """A Recorder that says when a notice with `word` in its headline arrives."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word
        self.arrived = asyncio.Event()

    async def send(self, notification: Notification, target: str) -> None:
        await super().send(notification, target)
        if self.word in notification.headline:
            self.arrived.set()


async def test_an_alert_is_told_unrecorded_and_not_again_when_the_store_returns(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    SUMMARY["fault cases tried"] += 1
    simulator.add_account(API_KEY, {"CNY": ("0.00", "50.00")})
    recorder = Heard("not recorded")
    async with Daemon.open(one_account(make_config, simulator), clock, {"rec": recorder}) as d:
        await d.pipeline.check("prod")
        db = tmp_path / "state.db"
        db.rename(tmp_path / "away.db")  # the store cannot be written (as if deleted)
        simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
        clock.advance(60)
        with pytest.raises(StoreError, match="deleted while running"):
            await d.pipeline.check("prod")
        await asyncio.wait_for(recorder.arrived.wait(), 10)
        [told] = [n for n in recorder.sent if n.account == "prod"]
        assert told.headline == (
            "WARNING: prod DeepSeek balance 15.00 CNY < 20.00 (not recorded: store unavailable)"
        )

        (tmp_path / "away.db").rename(db)  # the store is back
        clock.advance(60)
        await d.pipeline.check("prod")  # still 15.00: the same alert, already told
        assert await d.dispatcher.deliver_due() == 0
        assert (await d.store.alert_states())[KEY].status is AlertStatus.FIRING  # now kept

        simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
        clock.advance(60)
        await d.pipeline.check("prod")  # what comes next is recorded and sent as ever
        assert await d.dispatcher.deliver_due() == 1
    headlines = [n.headline for n in recorder.sent if n.account == "prod"]
    assert headlines[1] == "CRITICAL (escalated): prod DeepSeek balance 5.00 CNY < 10.00"
    assert len(headlines) == 2


@pytest.fixture
async def gone(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Daemon]:
    """A daemon that has checked once, whose SQLite file is then gone, logs captured."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", "50.00")})
    async with Daemon.open(one_account(make_config, simulator), clock, {"rec": Recorder()}) as d:
        await d.pipeline.check("prod")
        (tmp_path / "state.db").rename(tmp_path / "away.db")
        caplog.set_level(logging.INFO)
        yield d


def one_line(caplog: pytest.LogCaptureFixture, word: str) -> str:
    """The one record saying `word`, which must carry no traceback."""
    [said] = [r for r in caplog.records if word in r.getMessage()]
    assert said.exc_info is None and "Traceback" not in caplog.text
    return said.getMessage()


async def test_a_check_not_recorded_is_one_line_without_a_traceback(
    gone: Daemon, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The StoreError says what is wrong; its first occurrence was logged with 25 lines
    of traceback through the store's internals."""
    with pytest.raises(StoreError):
        await gone.pipeline.check("prod")
    assert one_line(caplog, "not recorded") == (
        f"check prod not recorded: cannot write the store: the database file"
        f" {tmp_path / 'state.db'} was deleted while running"
    )


async def test_a_command_the_store_refuses_is_one_line_without_a_traceback(
    gone: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    """`/mute` while the store cannot be written: answered "Sorry, that failed", and each
    one logged with its traceback (a button click already said it in one line)."""
    reply = await gone.commands.handle(Caller("cli", "root", "", "root"), "/mute 1h prod")
    assert reply is not None and reply.headline.startswith("Sorry, that failed")
    said = one_line(caplog, "failed")
    assert said.startswith("command /mute from ") and said.endswith("deleted while running")
