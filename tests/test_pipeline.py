"""Check → store → evaluate → outbox → delivery, against the simulator, on fake time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.config.values import NoOptions
from balancebot.daemon import Daemon
from balancebot.delivery import Dispatcher
from balancebot.errors import DeliveryError
from balancebot.models import FailureKind, Notification, TransitionKind
from balancebot.notifiers import Notifier
from balancebot.retry import Backoff
from balancebot.store import Store
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

from .conftest import API_KEY


class Recorder(Notifier):
    """A notifier that keeps what it is sent, and can be told to fail."""

    def __init__(self, name: str = "rec") -> None:
        super().__init__(name, NoOptions())
        self.sent: list[Notification] = []
        self.failures: list[DeliveryError] = []

    async def send(self, notification: Notification, target: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification)

    def headlines(self) -> list[str]:
        return [n.headline for n in self.sent]


RULES: list[dict[str, Any]] = [
    {
        "name": "low",
        "type": "threshold",
        "repeat_interval": "1h",
        "hysteresis": "2",
        "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
    },
    {"name": "down", "type": "unavailable"},
    {"name": "failing", "type": "check_failed", "after_failures": 2},
]


@pytest.fixture
def config(simulator: DeepSeekSimulator, make_config: Callable[..., Config]) -> Config:
    return make_config(
        accounts=[
            {"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url, "timeout": "1s"}
        ],
        rules=RULES,
        notifiers=[{"name": "rec", "type": "console"}],  # replaced by a Recorder below
    )


@pytest.fixture
async def daemon(config: Config, clock: FakeClock) -> AsyncIterator[tuple[Daemon, Recorder]]:
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as opened:
        yield opened, recorder


async def step(d: Daemon, clock: FakeClock, minutes: float = 5) -> list[TransitionKind]:
    clock.advance(minutes * 60)
    outcome = await d.pipeline.check("prod")
    await d.dispatcher.deliver_due()
    return [t.kind for t in outcome.transitions]


async def test_fire_repeat_escalate_resolve(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    d, recorder = daemon
    account = simulator.add_account(API_KEY, {"CNY": ("0.00", "25.00")})
    assert await step(d, clock) == []
    account.topped_up["CNY"] = Decimal("19.00")
    assert await step(d, clock) == [TransitionKind.FIRING]
    assert await step(d, clock, 30) == []
    assert await step(d, clock, 30) == [TransitionKind.REPEAT]
    account.topped_up["CNY"] = Decimal("8.20")
    assert await step(d, clock) == [TransitionKind.ESCALATED]
    account.topped_up["CNY"] = Decimal("21.00")  # above 20 but inside the 2.00 margin
    assert await step(d, clock) == []
    account.topped_up["CNY"] = Decimal("120.00")
    assert await step(d, clock) == [TransitionKind.RESOLVED]
    assert recorder.headlines() == [
        "WARNING: prod DeepSeek balance 19.00 CNY < 20.00",
        "WARNING (still): prod DeepSeek balance 19.00 CNY < 20.00",
        "CRITICAL (escalated): prod DeepSeek balance 8.20 CNY < 10.00",
        "RESOLVED: prod DeepSeek balance 120.00 CNY ≥ 20.00 (topped up +99.00 CNY)",
    ]
    assert "Lasted: 1h 15m" in recorder.sent[-1].details
    assert "CNY: 120.00 (granted 0.00, topped-up 120.00)" in recorder.sent[-1].details


BAD_DATA = [
    Fault(body=b"{}"),
    Fault(
        body=b'{"is_available": true, "balance_infos": [{"currency": "CNY",'
        b' "total_balance": "oops", "granted_balance": "0", "topped_up_balance": "0"}]}'
    ),
    Fault(
        body=b'{"is_available": true, "balance_infos": [{"currency": "XBT",'
        b' "total_balance": "0", "granted_balance": "0", "topped_up_balance": "0"}]}'
    ),
    Fault(body=b"<html>maintenance</html>"),
    Fault(status=500),
    Fault(status=503),
    Fault(status=429, headers={"Retry-After": "1"}),
    Fault(hang=True),
    Fault(status=200, body=b'{"is_available": true, "balance_infos": []}'),
]


@pytest.mark.parametrize("fault", BAD_DATA, ids=lambda f: f"{f.status}-{(f.body or b'')[:12]!r}")
async def test_bad_data_never_raises_a_balance_alert(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock, fault: Fault
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})  # would be critical if believed
    for _ in range(3):  # every retry of one check sees the fault
        simulator.fail_next(fault)
    outcome_kinds = await step(d, clock)
    assert outcome_kinds == []
    assert recorder.sent == []
    assert not any(key.rule in ("low", "down") for key in d.memory.states())


async def test_balance_alert_is_kept_through_failed_checks(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    assert await step(d, clock) == [TransitionKind.FIRING]
    simulator.fail_next(*[Fault(status=500)] * 6)
    assert await step(d, clock) == []  # one failure: not yet a check_failed alert
    assert await step(d, clock) == [TransitionKind.FIRING]  # two in a row: warning
    assert recorder.headlines()[-1].startswith("WARNING: prod DeepSeek balance check failed 2")
    assert await step(d, clock) == [TransitionKind.RESOLVED]  # checks work again; low stays


async def test_transient_failures_are_retried_within_a_check(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    d, _ = daemon
    simulator.add_account(API_KEY)
    simulator.fail_next(Fault(status=503), Fault(status=429, headers={"Retry-After": "3"}))
    outcome = await d.pipeline.check("prod")
    assert outcome.result.account == "prod" and not hasattr(outcome.result, "kind")
    assert len(simulator.requests) == 3
    assert clock.slept[1] >= 3.0  # Retry-After honoured


async def test_auth_failure_is_critical_at_once_and_not_retried(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    d, recorder = daemon
    assert await step(d, clock) == [TransitionKind.FIRING]  # unknown key → 401
    assert len(simulator.requests) == 1
    assert recorder.sent[0].headline.startswith("CRITICAL: prod DeepSeek balance check failed")
    results = await d.store.recent_results("prod", 1)
    assert results[0].kind is FailureKind.AUTH  # type: ignore[union-attr]


async def test_restart_neither_resends_nor_forgets(
    config: Config, simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    first = Recorder()
    async with Daemon.open(config, clock, {"rec": first}) as d:
        assert await step(d, clock) == [TransitionKind.FIRING]
    second = Recorder()
    async with Daemon.open(config, clock, {"rec": second}) as d:
        assert await step(d, clock, 20) == []  # within the repeat interval: silent
        assert await step(d, clock, 40) == [TransitionKind.REPEAT]
    assert len(first.sent) == 1 and len(second.sent) == 1


async def test_undelivered_rows_are_sent_after_a_restart_exactly_once(
    config: Config, simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    async with Daemon.open(config, clock, {"rec": Recorder()}) as d:
        await d.pipeline.check("prod")  # crash before the dispatcher ran
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        assert await d.dispatcher.deliver_due() == 1
        assert await d.dispatcher.deliver_due() == 0
    assert recorder.headlines() == ["WARNING: prod DeepSeek balance 15.00 CNY < 20.00"]


async def test_silenced_alerts_are_recorded_but_not_sent(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    await d.store.add_silence("prod", None, clock.now().replace(year=2027), "test", clock.now())
    assert await step(d, clock) == [TransitionKind.FIRING]
    assert recorder.sent == []


async def test_delivery_retries_transient_and_gives_up_on_permanent(
    store: Store, clock: FakeClock, config: Config, simulator: DeepSeekSimulator
) -> None:
    flaky, broken = Recorder("flaky"), Recorder("broken")
    flaky.failures = [DeliveryError("429", permanent=False, retry_after=30)]
    broken.failures = [DeliveryError("chat not found", permanent=True)] * 2
    dispatcher = Dispatcher(
        store, {"flaky": flaky, "broken": broken}, clock, Backoff(initial=1, cap=60, attempts=5)
    )
    from balancebot.store import OutboxEntry

    from .test_store import note, snap

    await store.save_check(
        snap(clock.now()),
        entries=[
            OutboxEntry(name, "", note(text, account=text))
            for text in ("a", "b")
            for name in ("flaky", "broken")
        ],
        now=clock.now(),
    )
    assert await dispatcher.deliver_due() == 0
    assert broken.failures == [] and flaky.sent == []  # a permanent error holds nothing back
    assert dispatcher.problems == {"broken": "chat not found"}
    clock.advance(29)
    assert await dispatcher.deliver_due() == 0
    clock.advance(1)
    assert await dispatcher.deliver_due() == 2
    assert flaky.headlines() == ["a", "b"]  # in order, each once
    assert broken.sent == []  # failed rows are not retried


async def test_many_concurrent_checks_share_one_sqlite_file(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], clock: FakeClock
) -> None:
    """SQLite allows one writer; concurrent checks must queue, not fail with 'locked'."""
    names = [f"a{i}" for i in range(150)]
    for name in names:
        simulator.add_account(f"{API_KEY}-{name}", {"CNY": ("0.00", "5.00")})
    config = make_config(
        max_concurrent_checks=50,
        accounts=[
            {"name": n, "api_key": f"{API_KEY}-{n}", "base_url": simulator.base_url} for n in names
        ],
        rules=RULES,
        notifiers=[{"name": "rec", "type": "console"}],
    )
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        outcomes = await asyncio.gather(*(d.pipeline.check(n) for n in names))
        assert await d.dispatcher.deliver_due() == 100  # one batch
        assert await d.dispatcher.deliver_due() == 50
    assert all(o.transitions for o in outcomes)
    assert len(recorder.sent) == len(names)
