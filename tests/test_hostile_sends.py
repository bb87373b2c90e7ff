"""A notifier is third-party code: whatever its `send` raises, or if it never returns and
swallows its cancellation, only its own target waits (a retry, later), the others are sent
to once, and delivery goes on. The real webhook notifier and receiver, subclassed to
misbehave for one target."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from balancebot.clock import SystemClock
from balancebot.deadline import left_running
from balancebot.delivery import Dispatcher
from balancebot.integrations.webhook.notifier import WebhookNotifier
from balancebot.models import Notification, Severity, TransitionKind
from balancebot.store import Delivery, OutboxEntry, Store
from balancebot.store.leases import Target
from balancebot.testing.receiver import Receiver


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class Custom(BaseException):
    pass


class Hostile(WebhookNotifier):
    """Sends as the webhook notifier does, but to its `bad` target raises `raises`, or
    never returns and swallows every cancellation (`raises` None)."""

    raises: BaseException | None = None
    bad = ""
    deaf = True

    async def send(self, notification: Notification, target: str) -> None:
        if target == self.bad:
            if self.raises is not None:
                raise self.raises
            while self.deaf:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(3600)
            raise asyncio.CancelledError  # hears again: the test is over
        await super().send(notification, target)


@dataclass
class Bench:
    dispatcher: Dispatcher
    notifier: Hostile
    receiver: Receiver
    store: Store
    bad: str


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    clock = SystemClock()
    async with Receiver() as receiver:
        urls = [f"{receiver.url}/hook/bad", f"{receiver.url}/hook/good"]
        notifier = Hostile.from_options(
            "hook", {"urls": urls, "secret": "whsec-hostile-0123456789", "timeout": "1s"}
        )
        assert isinstance(notifier, Hostile)
        bad, good = notifier.targets()
        notifier.bad = bad
        await notifier.start()
        store = await Store.open(f"sqlite:///{tmp_path / 'hostile.db'}")
        try:
            now = clock.now()
            alert = Notification(
                TransitionKind.FIRING, Severity.WARNING, "prod", "low", "CNY", "low", (), now, now
            )
            await store.enqueue([OutboxEntry("hook", t, alert) for t in (bad, good)], now)
            dispatcher = Dispatcher(store, {"hook": notifier}, clock)
            yield Bench(dispatcher, notifier, receiver, store, bad)
        finally:
            notifier.deaf = False  # else the test's event loop waits for it forever
            for task in list(left_running):
                task.cancel()
                await asyncio.wait({task})
            await notifier.close()
            await store.close()


async def only_the_bad_target_waits(
    bench: Bench, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert [r.route for r in bench.receiver.received] == ["hook/good"]  # once
    assert await bench.store.due_deliveries(SystemClock().now()) == []  # no retry at once
    [row] = await bench.store.due_deliveries(SystemClock().now() + timedelta(hours=1))
    assert row.target == bench.bad and row.attempts == 1
    [retry] = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retry.endswith(f": {error}"), retry


@pytest.mark.parametrize(
    "raised",
    [
        ValueError("bad value"),
        Unprintable(),
        asyncio.CancelledError(),  # before: the lane ended and re-sent at once, forever
        SystemExit(3),  # before: out of the event loop, the daemon gone
        KeyboardInterrupt(),
        GeneratorExit(),
        Custom(),
    ],
    ids=type,
)
async def test_whatever_a_send_raises_only_its_target_waits(
    bench: Bench, raised: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    bench.notifier.raises = raised
    assert await asyncio.wait_for(bench.dispatcher.deliver_due(), 10) == 1
    await only_the_bad_target_waits(bench, f"unexpected {type(raised).__name__}", caplog)


async def test_a_send_deaf_to_cancellation_ends_at_its_deadline(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: its lane waited for it forever (asyncio.timeout waits for what it cancels)."""
    started = time.monotonic()
    assert await asyncio.wait_for(bench.dispatcher.deliver_due(), 10) == 1
    took = time.monotonic() - started
    await only_the_bad_target_waits(bench, "no complete answer within 1 s", caplog)
    assert 0.9 < took < 3
    assert [task.get_name() for task in left_running] == [f"send to hook:{bench.bad}"]
    print(f"\na send deaf to cancellation given up after {took:.1f} s (timeout 1 s)")


class Stalled(Store):
    """The real store, whose reads for one lane hang until `go` is set."""

    go: asyncio.Event
    waiting: asyncio.Event  # set once `expect` lanes wait
    expect = 0

    async def due_deliveries(
        self, now: datetime, limit: int = 100, only: Iterable[Target] | None = None
    ) -> list[Delivery]:
        if only is not None:
            self.expect -= 1
            if self.expect == 0:
                self.waiting.set()
            await self.go.wait()
        return await super().due_deliveries(now, limit, only)


async def test_a_stop_says_in_one_line_what_a_flood_of_waiting_lanes_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """2,000 webhook targets on SQLite were all sent to in 8.5 s, but the store work behind
    1,000 of them was not done when stopped: 1,000 'abandoned delivery' lines, before."""
    clock = SystemClock()
    async with Receiver() as receiver:
        urls = [f"{receiver.url}/hook/{n}" for n in range(50)]
        notifier = WebhookNotifier.from_options(
            "hook", {"urls": urls, "secret": "whsec-hostile-0123456789"}
        )
        store = await Stalled.open(f"sqlite:///{tmp_path / 'flood.db'}")
        store.go, store.waiting, store.expect = asyncio.Event(), asyncio.Event(), len(urls)
        try:
            now = clock.now()
            alert = Notification(
                TransitionKind.FIRING, Severity.WARNING, "prod", "low", "CNY", "low", (), now, now
            )
            await store.enqueue([OutboxEntry("hook", t, alert) for t in notifier.targets()], now)
            dispatcher = Dispatcher(store, {"hook": notifier}, clock)
            stop = asyncio.Event()
            running = asyncio.create_task(dispatcher.run(stop))
            await asyncio.wait_for(store.waiting.wait(), 10)
            stop.set()
            await asyncio.wait_for(running, 15)
        finally:
            store.go.set()
            await notifier.close()
            await store.close()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stopping:")]
    assert len(said) == 1, said
    assert said[0].startswith("stopping: abandoned delivery to 50 target(s)"), said
