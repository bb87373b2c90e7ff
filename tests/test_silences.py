"""Mutes bound to an alert ("until resolved") and what happens when a mute ends."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from balancebot.daemon import Daemon
from balancebot.labels import Matcher
from balancebot.models import AlertKey, Severity, Silence, TransitionKind
from balancebot.silences import release_loop, release_unmuted
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .test_pipeline import Recorder, config, daemon, step  # noqa: F401 - fixtures

KEY = AlertKey("prod", "low", "CNY")
T = FakeClock().now()
M = Matcher.parse


async def release(d: Daemon, clock: FakeClock) -> int:
    return await release_unmuted(d.store, clock.now(), d.pipeline.remember_told)


async def mute_prod(d: Daemon, clock: FakeClock, span: timedelta) -> None:
    await d.store.add_silence("prod", None, clock.now() + span, "t", clock.now())


def bound(until_resolved: bool = True) -> Silence:
    return Silence(1, "prod", "low", T + timedelta(days=30), "t", T, "", "CNY", until_resolved)


def test_until_resolved_lets_resolved_and_critical_escalations_through() -> None:
    s = bound()
    assert s.mutes(TransitionKind.REPEAT, KEY, Severity.WARNING, T)
    assert s.mutes(TransitionKind.ESCALATED, KEY, Severity.WARNING, T)
    assert s.mutes(TransitionKind.REPEAT, KEY, Severity.CRITICAL, T)
    assert not s.mutes(TransitionKind.ESCALATED, KEY, Severity.CRITICAL, T)
    assert not s.mutes(TransitionKind.RESOLVED, KEY, Severity.WARNING, T)
    assert not s.mutes(TransitionKind.REPEAT, AlertKey("prod", "low", "USD"), Severity.INFO, T)
    assert not s.mutes(TransitionKind.REPEAT, KEY, Severity.INFO, T + timedelta(days=30))


def test_a_plain_bound_mute_mutes_everything_of_its_key() -> None:
    s = bound(until_resolved=False)
    for kind in TransitionKind:
        assert s.mutes(kind, KEY, Severity.CRITICAL, T)
    assert not s.mutes(TransitionKind.FIRING, AlertKey("prod", "down"), Severity.CRITICAL, T)


async def test_until_resolved_mute_through_the_pipeline(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    assert await step(d, clock) == [TransitionKind.FIRING]
    await d.store.add_silence(
        "prod", "low", clock.now() + timedelta(days=30), "t", clock.now(), "", "CNY", True
    )
    assert await step(d, clock, 61) == [TransitionKind.REPEAT]
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    assert await step(d, clock) == [TransitionKind.ESCALATED]
    assert await step(d, clock, 61) == [TransitionKind.REPEAT]
    simulator.add_account(API_KEY, {"CNY": ("0.00", "50.00")})
    assert await step(d, clock) == [TransitionKind.RESOLVED]
    assert [n.kind for n in recorder.sent] == [
        TransitionKind.FIRING,
        TransitionKind.ESCALATED,
        TransitionKind.RESOLVED,
    ]
    assert await d.store.active_silences(clock.now()) == []  # ended with its alert
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    assert await step(d, clock) == [TransitionKind.FIRING]
    assert len(recorder.sent) == 4  # the next firing is a new alert: not muted


async def test_unmute_sends_what_was_never_told_at_once(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    """Mute prod, the balance falls to a warning, unmute: the warning goes out now, once."""
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    await mute_prod(d, clock, timedelta(hours=4))
    assert await step(d, clock) == [TransitionKind.FIRING]
    assert recorder.sent == []
    assert await release(d, clock) == 0  # still muted
    assert await d.store.end_silences("prod", None, clock.now()) == 1
    assert await release(d, clock) == 1
    assert await release(d, clock) == 0  # idempotent
    await d.dispatcher.deliver_due()
    assert [(n.kind, n.severity) for n in recorder.sent] == [
        (TransitionKind.FIRING, Severity.WARNING)
    ]
    assert await step(d, clock) == []  # and no repeat before repeat_interval


async def test_an_expired_mute_releases_and_a_told_route_is_not_told_again(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    assert await step(d, clock) == [TransitionKind.FIRING]  # told
    await mute_prod(d, clock, timedelta(hours=2))
    assert await step(d, clock, 61) == [TransitionKind.REPEAT]  # muted
    clock.advance(2 * 3600)
    assert await release(d, clock) == 0  # the route knew already
    assert len(recorder.sent) == 1


async def test_unmute_account_also_ends_its_button_mutes(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    clock: FakeClock,
) -> None:
    d, _ = daemon
    now = clock.now()
    await d.store.add_silence("prod", "low", now + timedelta(hours=1), "t", now, "", "CNY")
    await d.store.add_silence("prod", "low", now + timedelta(hours=1), "t", now)  # rule-level
    assert await d.store.end_silences("prod", None, now) == 1
    [left] = await d.store.active_silences(now)
    assert left.subject is None


async def test_the_daemon_pass_releases_a_mute_that_ran_out(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    await mute_prod(d, clock, timedelta(minutes=30))
    assert await step(d, clock) == [TransitionKind.FIRING]
    clock.advance(31 * 60)  # the mute expires by itself
    woke, stop = asyncio.Event(), asyncio.Event()
    passes = asyncio.create_task(release_loop(d.pipeline, d.store, clock, UTC, woke.set, stop))
    await asyncio.wait_for(woke.wait(), 10)
    stop.set()
    await passes
    await d.dispatcher.deliver_due()
    assert [n.kind for n in recorder.sent] == [TransitionKind.FIRING]


async def test_unmute_sends_an_escalation_that_was_muted(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    assert await step(d, clock) == [TransitionKind.FIRING]  # told: warning
    await mute_prod(d, clock, timedelta(hours=4))
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    assert await step(d, clock) == [TransitionKind.ESCALATED]  # muted: critical
    assert await d.store.end_silences("prod", None, clock.now()) == 1
    assert await release(d, clock) == 1
    await d.dispatcher.deliver_due()
    assert [(n.kind, n.severity) for n in recorder.sent][1:] == [
        (TransitionKind.ESCALATED, Severity.CRITICAL)
    ]


async def test_a_released_alert_gets_its_resolved_notice(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    """Resolved notices go only where the firing was told: a release counts as telling."""
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    await mute_prod(d, clock, timedelta(hours=4))
    assert await step(d, clock) == [TransitionKind.FIRING]
    await d.store.end_silences("prod", None, clock.now())
    assert await release(d, clock) == 1
    simulator.add_account(API_KEY, {"CNY": ("0.00", "50.00")})
    assert await step(d, clock) == [TransitionKind.RESOLVED]
    assert [n.kind for n in recorder.sent] == [TransitionKind.FIRING, TransitionKind.RESOLVED]
    assert await d.store.told_routes() == {}


async def test_a_release_the_store_refuses_is_one_line_without_a_traceback(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A mute ran out while the SQLite file is gone: each pass logged the StoreError with
    its whole traceback, every pass while the store was away."""
    d, _ = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    await mute_prod(d, clock, timedelta(minutes=30))
    assert await step(d, clock) == [TransitionKind.FIRING]
    clock.advance(31 * 60)
    (tmp_path / "state.db").rename(tmp_path / "away.db")
    heard = asyncio.Event()

    class Ear(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "releasing alerts" in record.getMessage():
                heard.set()

    ear, stop = Ear(), asyncio.Event()
    logging.getLogger("balancebot.silences").addHandler(ear)
    passes = asyncio.create_task(release_loop(d.pipeline, d.store, clock, UTC, heard.set, stop))
    try:
        await asyncio.wait_for(heard.wait(), 10)
    finally:
        stop.set()
        await passes
        logging.getLogger("balancebot.silences").removeHandler(ear)
    [said] = [r for r in caplog.records if "releasing alerts" in r.getMessage()]
    assert said.getMessage().endswith("was deleted while running")
    assert said.exc_info is None and "Traceback" not in caplog.text


def test_a_mute_by_labels_mutes_the_alerts_whose_labels_match() -> None:
    labels = {"alertname": "low", "account": "prod", "currency": "CNY", "team": "search"}
    team = Silence(1, None, None, T + timedelta(hours=1), "t", T, matchers=(M('team="search"'),))
    assert team.mutes(TransitionKind.FIRING, KEY, Severity.WARNING, T, labels)
    assert not team.mutes(TransitionKind.FIRING, KEY, Severity.WARNING, T, labels | {"team": "ads"})
    assert not team.mutes(TransitionKind.FIRING, KEY, Severity.WARNING, T)  # no labels: no team
    # the shorthands still hold beside the matchers, and without labels the key's are used
    both = Silence(2, "prod", None, T + timedelta(hours=1), "t", T, matchers=(M("currency=~U.*"),))
    assert both.mutes(TransitionKind.FIRING, AlertKey("prod", "low", "USD"), Severity.INFO, T)
    assert not both.mutes(TransitionKind.FIRING, KEY, Severity.INFO, T)
    assert not both.mutes(TransitionKind.FIRING, AlertKey("dev", "low", "USD"), Severity.INFO, T)
    assert both.describe() == 'prod / currency=~"U.*"'
    assert both.accounts(["prod", "dev"]) == {"prod"}
    assert team.accounts(["prod", "dev"]) == {"prod", "dev"}


async def test_a_mute_by_labels_through_the_pipeline_and_its_release(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    """`severity="warning"` is no part of an alert's key: the warning is muted, the
    escalation to critical is sent, and the mute's end releases nothing told already."""
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    matchers = (M('provider="deepseek"'), M('severity="warning"'))
    until = clock.now() + timedelta(hours=4)
    made = await d.store.add_silence(None, None, until, "t", clock.now(), matchers=matchers)
    assert made.matchers == matchers
    assert [s.matchers for s in await d.store.active_silences(clock.now())] == [matchers]
    assert await step(d, clock) == [TransitionKind.FIRING]
    assert recorder.sent == []
    assert await release_unmuted(d.store, clock.now(), d.pipeline.remember_told, d.config) == 0
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    assert await step(d, clock) == [TransitionKind.ESCALATED]
    # sent as the first notice it is to a route that was told nothing
    assert [(n.kind, n.severity) for n in recorder.sent] == [
        (TransitionKind.FIRING, Severity.CRITICAL)
    ]
    # /unmute of everything ends only the mutes that name nothing: this one has its id
    assert await d.store.end_silences(None, None, clock.now()) == 0
    assert await d.store.end_silence(made.id, clock.now())
    assert await release_unmuted(d.store, clock.now(), d.pipeline.remember_told, d.config) == 0


async def test_a_mute_by_labels_is_released_when_it_ends(
    daemon: tuple[Daemon, Recorder],  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    until = clock.now() + timedelta(hours=1)
    await d.store.add_silence(
        None, None, until, "t", clock.now(), matchers=(M("provider=~deep.*"),)
    )
    assert await step(d, clock) == [TransitionKind.FIRING]
    assert recorder.sent == []
    clock.advance(3600)
    assert await release_unmuted(d.store, clock.now(), d.pipeline.remember_told, d.config) == 1
    await d.dispatcher.deliver_due()
    assert [n.kind for n in recorder.sent] == [TransitionKind.FIRING]
