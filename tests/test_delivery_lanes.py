"""Each target is a lane of its own: a receiver that drips its answer, or one whose failure
poisons a retry time, holds back and duplicates nothing elsewhere; a queue that waited
behind a retry goes out as one notice per alert, never a "(still)" nobody saw fire. The
real webhook and Telegram notifiers against the loopback fakes, on fake time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.delivery import Dispatcher
from balancebot.delivery_lanes import retry_delay
from balancebot.models import TransitionKind
from balancebot.retry import RETRY_AFTER_CAP
from balancebot.silences import release_unmuted
from balancebot.store import Store
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.receiver import Fault, Receiver
from balancebot.testing.telegram import FakeTelegram, TelegramFault

from .channels import LOW_RULE
from .conftest import API_KEY
from .test_ops import get

TOKEN = "4242:lanes-token"
CHAT = 42


@dataclass
class World:
    daemon: Daemon
    simulator: DeepSeekSimulator
    clock: FakeClock
    slow: Receiver  # hook/a
    other: Receiver  # hook/b
    telegram: FakeTelegram

    async def low(self, account: str, total: str = "5.00") -> None:
        """The balance of `account` falls: an alert is queued for every target."""
        self.simulator.add_account(f"{API_KEY}-{account}", {"CNY": ("0.00", total)})
        self.clock.advance(60)
        await self.daemon.pipeline.check(account)


@pytest.fixture
def hook_timeout() -> str:
    return "60s"


@pytest.fixture
async def world(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    hook_timeout: str,
) -> AsyncIterator[World]:
    async with Receiver() as slow, Receiver() as other, FakeTelegram(TOKEN, clock) as telegram:
        telegram.add_chat(CHAT)
        config = make_config(
            accounts=[
                {"name": n, "api_key": f"{API_KEY}-{n}", "base_url": simulator.base_url}
                for n in ("prod", "dev")
            ],
            rules=[LOW_RULE],
            notifiers=[
                {
                    "name": "hook",
                    "type": "webhook",
                    "urls": [f"{slow.url}/hook/a", f"{other.url}/hook/b"],
                    "secret": "whsec-lanes-0123456789",
                    "timeout": hook_timeout,
                },
                {
                    "name": "tg",
                    "type": "telegram",
                    "bot_token": TOKEN,
                    "chat_ids": [CHAT],
                    "base_url": telegram.base_url,
                },
            ],
            http={"enabled": True, "listen": "127.0.0.1:0"},
            routes=[
                {"notifiers": ["hook"], "accounts": ["prod"]},
                {"notifiers": ["tg"], "accounts": ["prod", "dev"]},
            ],
        )
        async with Daemon.open(config, clock) as daemon:
            yield World(daemon, simulator, clock, slow, other, telegram)


async def test_a_dripping_receiver_holds_back_only_its_own_target(world: World) -> None:
    """On main the next round waited for the dripping send: every channel stalled."""
    world.slow.stalls, world.slow.drip = 1, 0.2  # 200, then a byte every 0.2 s, forever
    stop = asyncio.Event()
    running = asyncio.create_task(world.daemon.dispatcher.run(stop))
    try:
        await world.low("prod")  # to hook/a (stalls), hook/b and Telegram
        await asyncio.wait_for(world.slow.stalled.wait(), 10)
        await world.telegram.wait_until(lambda: len(world.telegram.sent) == 1, 10)
        started = time.monotonic()
        await world.low("dev")  # another account's alert, to Telegram only
        await world.telegram.wait_until(lambda: len(world.telegram.sent) == 2, 10)
        latency = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert world.slow.received == [] and len(world.other.received) == 1
    assert "dev" in world.telegram.sent[1]["text"]
    print(f"\nTelegram alert while a webhook drips: delivered in {latency * 1000:.0f} ms")


@pytest.mark.parametrize("hook_timeout", ["1s"])
async def test_a_whole_send_has_a_deadline(world: World, clock: FakeClock) -> None:
    """`timeout` bounded each read on main: a byte every 0.2 s kept a 1 s send going forever."""
    world.slow.stalls, world.slow.drip = 1, 0.2
    await world.low("prod")
    started = time.monotonic()
    assert await asyncio.wait_for(world.daemon.dispatcher.deliver_due(), 10) == 2
    elapsed = time.monotonic() - started
    [row] = await world.daemon.store.due_deliveries(clock.now() + timedelta(hours=1))
    assert row.target.startswith(world.slow.url) and row.attempts == 1
    assert 0.9 < elapsed < 5
    print(f"\na dripping receiver's send given up after {elapsed:.1f} s (timeout 1 s)")


class Watched(Store):
    """The real store, saying when a retry was recorded (or failing to, when `poisoned`)."""

    poisoned = False
    retried: asyncio.Event

    async def mark_retry(self, delivery_id: int, attempts: int, at: datetime, error: str) -> None:
        self.retried.set()
        if self.poisoned:
            raise RuntimeError("a bug while recording the retry")
        await super().mark_retry(delivery_id, attempts, at, error)


@pytest.mark.parametrize("poison", ["retry-after 1e12", "an exception"])
async def test_a_poisoned_target_never_causes_a_second_delivery_elsewhere(
    world: World, poison: str
) -> None:
    """On main `Retry-After: 1e12` overflowed the retry time; the round's gather re-raised
    while another target's send was in flight, its lease was released, and the next round
    sent it again."""
    d = world.daemon
    store = Watched(d.store._engine, d.store._file)
    store.retried, store.poisoned = asyncio.Event(), poison == "an exception"
    dispatcher = Dispatcher(store, d.notifiers, world.clock)
    world.slow.faults.append(Fault(429, {"Retry-After": "1e12"}))
    world.other.gate = gate = asyncio.Event()  # hook/b's send stays in flight
    world.telegram.enforce_limits = False
    await world.low("prod")
    first = asyncio.create_task(dispatcher.deliver_due())
    await world.telegram.wait_until(lambda: len(world.telegram.sent) == 1, 10)
    failed = asyncio.create_task(store.retried.wait())
    await asyncio.wait([first, failed], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.wait_for(world.other.held.wait(), 10)  # hook/b's request is in flight
    again = await dispatcher.deliver_due()  # a second round while hook/b is in flight
    gate.set()
    failed.cancel()
    await asyncio.wait_for(first, 10)
    assert len(world.other.received) == 1 and world.other.requests == 1
    assert len(world.telegram.sent) == 1
    if poison == "retry-after 1e12":
        assert again == 0 and world.slow.requests == 1  # not re-POSTed
        [row] = await store.due_deliveries(world.clock.now() + timedelta(hours=1))
        assert row.attempts == 1
    else:
        assert world.slow.requests <= 2  # only the poisoned target may be tried again


def test_every_retry_delay_is_a_number_of_seconds_a_clock_can_hold() -> None:
    for said in (1e12, float("inf"), 1e308, 10**30):
        assert retry_delay(said, 2.0) == RETRY_AFTER_CAP
    for said in (float("nan"), None, "7"):
        assert retry_delay(said, 2.0) == 2.0
    assert retry_delay(float("-inf"), 2.0) == 0.0 and retry_delay(10**400, 2.0) == 3600.0
    assert retry_delay(-5, 2.0) == 0.0 and retry_delay(7, 2.0) == 7.0
    assert retry_delay(None, 1e12) == RETRY_AFTER_CAP


async def test_a_queue_that_waited_on_a_retry_goes_out_as_one_first_notice(
    world: World,
) -> None:
    """On main the firing and two "(still)" queued behind its retry burst out together."""
    d, telegram = world.daemon, world.telegram
    telegram.faults.append(
        TelegramFault(429, "Too Many Requests: retry after 600", {"retry_after": 600})
    )
    await world.low("dev")
    assert await d.dispatcher.deliver_due() == 0  # the firing waits 10 minutes
    for _ in range(2):  # an hour each: a repeat each, queued behind it
        world.clock.advance(3600)
        outcome = await d.pipeline.check("dev")
        assert [t.kind for t in outcome.transitions] == [TransitionKind.REPEAT]
    assert await d.dispatcher.deliver_due() == 1
    [message] = telegram.sent
    headline = message["text"].splitlines()[0]
    assert "CRITICAL: dev DeepSeek balance 5.00 CNY" in headline and "(still)" not in headline
    assert "Since: " in message["text"]  # says how long it has been going on
    assert await d.dispatcher.deliver_due() == 0  # the replaced ones are never sent
    world.clock.advance(3600)
    await d.pipeline.check("dev")
    assert await d.dispatcher.deliver_due() == 1
    assert "(still)" in telegram.sent[1]["text"].splitlines()[0]  # now it was told


async def test_the_first_notice_after_a_mute_is_never_a_still(world: World) -> None:
    """Muted when it fired, unmuted, then the hourly repeat: on main it read "(still)"."""
    d, clock = world.daemon, world.clock
    await d.store.add_silence("dev", None, clock.now() + timedelta(minutes=30), "t", clock.now())
    await world.low("dev")
    assert await d.dispatcher.deliver_due() == 0  # muted
    clock.advance(3600)  # the mute ran out; the repeat is due before any release pass
    assert [t.kind for t in (await d.pipeline.check("dev")).transitions] == [TransitionKind.REPEAT]
    assert await d.dispatcher.deliver_due() == 1
    headline = world.telegram.sent[0]["text"].splitlines()[0]
    assert "CRITICAL: dev" in headline and "(still)" not in headline


async def test_a_target_failing_for_minutes_is_a_problem_readyz_shows(world: World) -> None:
    d, telegram = world.daemon, world.telegram
    assert d.server is not None
    url = await d.server.serve()
    try:
        telegram.faults.extend(TelegramFault(502, "Bad Gateway") for _ in range(5))
        await world.low("dev")
        for _ in range(5):  # each retry fails: failing for 8 minutes by the last
            assert await d.dispatcher.deliver_due() == 0
            world.clock.advance(120)
        status, body = await get(f"{url}/readyz")
        assert status == 503
        assert "delivery to tg:42 is stuck: its sends have failed for 8m 00s" in body
        assert await d.dispatcher.deliver_due() == 1
        assert "stuck" not in (await get(f"{url}/readyz"))[1]
    finally:
        await d.server.stop()


async def test_an_escalation_nobody_saw_begin_reads_as_the_first_notice(world: World) -> None:
    d, telegram = world.daemon, world.telegram
    telegram.faults.append(
        TelegramFault(429, "Too Many Requests: retry after 600", {"retry_after": 600})
    )
    await world.low("dev", "15.00")  # warning: its send waits 10 minutes
    assert await d.dispatcher.deliver_due() == 0
    world.clock.advance(600)
    await world.low("dev", "5.00")  # critical, queued behind it
    assert await d.dispatcher.deliver_due() == 1
    headline = telegram.sent[0]["text"].splitlines()[0]
    assert "CRITICAL: dev" in headline and "(escalated)" not in headline


async def test_an_unmute_releases_a_muted_repeat_as_a_first_notice(world: World) -> None:
    """On main the release kept the repeat's "(still)" headline (only its kind changed)."""
    d, clock = world.daemon, world.clock
    await d.store.add_silence("dev", None, clock.now() + timedelta(hours=4), "t", clock.now())
    await world.low("dev")
    clock.advance(3600)
    await d.pipeline.check("dev")  # the hourly repeat, muted too
    await d.store.end_silences("dev", None, clock.now())
    assert await release_unmuted(d.store, clock.now(), d.pipeline.remember_told) == 1
    assert await d.dispatcher.deliver_due() == 1
    headline = world.telegram.sent[0]["text"].splitlines()[0]
    assert "CRITICAL: dev" in headline and "(still)" not in headline
