"""Issue 11 §2: no exception ends watching silently, and balancebot says when it cannot
watch (self alerts sent without the store, /readyz red)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from balancebot.config import AccountConfig, Config, Secret
from balancebot.daemon import Daemon
from balancebot.errors import DeliveryError, StoreError
from balancebot.health import Health
from balancebot.models import BalanceSnapshot, CheckFailure, FailureKind, TransitionKind
from balancebot.self_alerts import SelfAlerts
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY, SUMMARY
from .test_ops import get
from .test_pipeline import RULES, Recorder

CURLY_KEY = API_KEY + "\u201d"  # what a word processor makes of a closing quote


def one_account(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    key: str = API_KEY,
    **top: object,
) -> Config:
    return make_config(
        accounts=[
            {"name": "prod", "api_key": key, "base_url": simulator.base_url, "timeout": "1s"}
        ],
        rules=[*RULES[:2], {"name": "failing", "type": "check_failed", "after_failures": 1}],
        notifiers=[{"name": "rec", "type": "console"}],
        **top,
    )


async def test_a_key_with_a_curly_quote_is_a_recorded_rejected_check(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    """On main the UnicodeEncodeError escaped the job: no snapshot, no alert. The config
    now refuses such a key at load (test_config_checks); built around that check here, the
    request refuses it before it is sent: that account's permanent failure, recorded and
    alerted (bugs deeper down are the `Exploding` provider's cases below)."""
    SUMMARY["fault cases tried"] += 1
    config = one_account(make_config, simulator)
    curly = msgspec.structs.replace(config.accounts[0], api_key=Secret(CURLY_KEY))
    config = msgspec.structs.replace(config, accounts=[curly])
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        outcome = await d.pipeline.check("prod")
        assert isinstance(outcome.result, CheckFailure)
        assert outcome.result.kind is FailureKind.REJECTED
        assert "non-ASCII character U+201D" in outcome.result.message
        assert [t.kind for t in outcome.transitions] == [TransitionKind.FIRING]
        await d.dispatcher.deliver_due()
        stored = await d.store.recent_results("prod", 1)
    assert isinstance(stored[0], CheckFailure) and stored[0].kind is FailureKind.REJECTED
    assert recorder.headlines()[0].startswith("WARNING: prod DeepSeek balance check failed 1")
    assert CURLY_KEY not in str(recorder.sent)


class Exploding:
    """A provider with a bug: raises what no provider should."""

    display_name = "Exploding"

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls = 0

    async def fetch(self, account: AccountConfig) -> BalanceSnapshot:
        self.calls += 1
        raise self.error


@pytest.fixture
async def exploding(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> AsyncIterator[tuple[Daemon, Recorder, Exploding]]:
    recorder = Recorder()
    provider = Exploding(MemoryError("no room"))
    async with Daemon.open(one_account(make_config, simulator), clock, {"rec": recorder}) as d:
        d.pipeline._providers = {"deepseek": provider}
        yield d, recorder, provider


async def test_unexpected_exceptions_are_traced_once_then_raise_a_self_alert(
    exploding: tuple[Daemon, Recorder, Exploding],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    SUMMARY["fault cases tried"] += 1
    d, recorder, provider = exploding
    caplog.set_level(logging.INFO)
    for _ in range(3):
        clock.advance(60)
        await d.pipeline.scheduled_check("prod")  # the APScheduler job: nothing escapes
    assert provider.calls == 3
    traced = [r for r in caplog.records if r.exc_info and "inside balancebot" in r.getMessage()]
    assert len(traced) == 1  # a traceback once, then one line per failure
    results = await d.store.recent_results("prod", 3)
    assert [r.kind for r in results if isinstance(r, CheckFailure)] == [FailureKind.INTERNAL] * 3
    assert "checks:prod" in d.store.health.problems()
    await d.dispatcher.self_alerts.tell()
    selfs = [n for n in recorder.sent if n.account == "balancebot"]
    assert [n.kind for n in selfs] == [TransitionKind.FIRING]
    assert "failed inside balancebot 3 times in a row" in selfs[0].headline


async def test_sqlite_file_deleted_under_the_daemon_self_alert_and_readyz(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    tmp_path: Path,
) -> None:
    """On main the daemon kept writing to the unlinked file with /readyz green."""
    SUMMARY["fault cases tried"] += 1
    simulator.add_account(API_KEY, {"CNY": ("0.00", "50.00")})
    config = one_account(make_config, simulator, http={"enabled": True, "listen": "127.0.0.1:0"})
    recorder = Recorder()
    told = asyncio.Event()
    async with Daemon.open(config, notifiers={"rec": recorder}) as d:
        assert d.server is not None
        url = await d.server.serve()
        stop = asyncio.Event()
        delivery = asyncio.create_task(d.dispatcher.run(stop))
        try:
            await d.pipeline.check("prod")
            assert (await get(f"{url}/readyz"))[0] == 200
            (tmp_path / "state.db").unlink()
            started = time.perf_counter()
            original = recorder.send

            async def noticed(notification, target):  # type: ignore[no-untyped-def]
                await original(notification, target)
                told.set()

            recorder.send = noticed  # type: ignore[method-assign]
            await d.pipeline.scheduled_check("prod")  # the write fails: no exception escapes
            with pytest.raises(StoreError, match="deleted while running"):
                await d.pipeline.check("prod")
            await asyncio.wait_for(told.wait(), 10)
            latency_ms = (time.perf_counter() - started) * 1000
            status, body = await get(f"{url}/readyz")
        finally:
            stop.set()
            await delivery
            await d.server.stop()
    assert status == 503 and "deleted while running" in body
    self_alert = recorder.sent[-1]
    assert self_alert.account == "balancebot" and self_alert.kind is TransitionKind.FIRING
    assert "cannot write the store" in self_alert.headline
    print(f"store file deleted -> self alert sent in {latency_ms:.0f} ms")


@pytest.mark.postgres
async def test_postgres_connections_killed_self_alert_then_resolved(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    store_url: str,
) -> None:
    if not store_url.startswith("postgres"):
        pytest.skip("PostgreSQL only")
    SUMMARY["fault cases tried"] += 1
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from balancebot.store import async_url

    simulator.add_account(API_KEY, {"CNY": ("0.00", "50.00")})
    config = one_account(make_config, simulator, store={"url": store_url})
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        await d.pipeline.check("prod")
        killer = create_async_engine(async_url(store_url))
        try:
            async with killer.connect() as conn:
                await conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
        finally:
            await killer.dispose()
        clock.advance(60)
        with pytest.raises(StoreError, match="cannot write the store"):
            await d.pipeline.check("prod")
        assert not d.store.health.healthy
        await d.dispatcher.self_alerts.tell()
        clock.advance(60)
        await d.pipeline.check("prod")  # the pool reconnects
        assert d.store.health.healthy
        await d.dispatcher.self_alerts.tell()
    kinds = [(n.account, n.kind) for n in recorder.sent]
    assert kinds == [("balancebot", TransitionKind.FIRING), ("balancebot", TransitionKind.RESOLVED)]


class Flaky(Recorder):
    def __init__(self, name: str, targets: list[str]) -> None:
        super().__init__(name)
        self._targets = targets
        self.down = False

    def targets(self) -> list[str]:
        return self._targets

    async def send(self, notification, target):  # type: ignore[no-untyped-def]
        if self.down:
            raise DeliveryError("down", permanent=False)
        await super().send(notification, target)


async def test_self_alerts_dedupe_repeat_retry_and_resolve_in_memory(clock: FakeClock) -> None:
    health = Health(clock)
    ok, flaky = Flaky("ok", ["a", "b"]), Flaky("flaky", [""])
    alerts = SelfAlerts(health, {"ok": ok, "flaky": flaky}, clock, timedelta(hours=1))
    assert await alerts.tell() is None and ok.sent == []
    flaky.down = True
    health.report("store", "cannot write the store: disk full")
    health.report("store", "cannot write the store: disk full")  # the same problem again
    retry = await alerts.tell()
    assert [n.kind for n in ok.sent] == [TransitionKind.FIRING] * 2  # both targets, once
    assert retry == clock.now() + timedelta(seconds=30)  # the failed route is tried again
    assert await alerts.tell() is not None and len(ok.sent) == 2  # no duplicate
    flaky.down = False
    clock.advance(30)
    await alerts.tell()
    assert [n.kind for n in flaky.sent] == [TransitionKind.FIRING]
    clock.advance(3600)
    await alerts.tell()
    assert [n.kind for n in ok.sent][-2:] == [TransitionKind.REPEAT] * 2
    health.clear("store")
    assert await alerts.tell() is None
    assert [n.kind for n in ok.sent][-2:] == [TransitionKind.RESOLVED] * 2
    assert flaky.sent[-1].kind is TransitionKind.RESOLVED
    assert "healthy again" in flaky.sent[-1].headline


async def test_resolved_self_alert_goes_only_where_the_firing_went(clock: FakeClock) -> None:
    health = Health(clock)
    ok, never = Flaky("ok", [""]), Flaky("never", [""])
    never.down = True
    alerts = SelfAlerts(health, {"ok": ok, "never": never}, clock)
    health.report("checks:prod", "checks of prod failed inside balancebot")
    await alerts.tell()
    never.down = False
    health.clear("checks:prod")
    await alerts.tell()
    assert never.sent == []
    assert [n.kind for n in ok.sent] == [TransitionKind.FIRING, TransitionKind.RESOLVED]


async def test_a_replicas_self_alert_says_which_replica(clock: FakeClock) -> None:
    """Each replica tells its own trouble; three identical messages did not say whose."""
    health, ok = Health(clock), Flaky("ok", [""])
    alerts = SelfAlerts(health, {"ok": ok}, clock, replica="db-host-2:41:9f3c")
    health.report("store", "cannot write the store: disk full")
    await alerts.tell()
    assert ok.sent[0].details[-1] == "Replica: db-host-2:41:9f3c"


NEWLINE_KEY = API_KEY + "\n"  # what env-from-file and Kubernetes secrets often hand over


async def test_no_failure_message_holds_a_key_or_a_header_value(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main httpx's `Illegal header value b'Bearer sk-...\\n'` reached the chat, the
    snapshots and outbox tables and the logs."""
    SUMMARY["fault cases tried"] += 1
    import json

    from balancebot.errors import UpstreamUnavailable

    caplog.set_level(logging.DEBUG)
    config = one_account(make_config, simulator, NEWLINE_KEY)
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        await d.pipeline.check("prod")  # through httpx, whatever it makes of the key
        escaped = [repr(NEWLINE_KEY), json.dumps(NEWLINE_KEY), repr(NEWLINE_KEY.encode())]
        d.pipeline._providers = {
            "deepseek": Exploding(UpstreamUnavailable("leaked " + " ".join(escaped)))
        }
        clock.advance(60)
        await d.pipeline.check("prod")
        await d.dispatcher.deliver_due()
        stored = [r for r in await d.store.recent_results("prod", 5) if isinstance(r, CheckFailure)]
    assert stored and recorder.sent
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("balancebot")]
    seen = " ".join([*(r.message for r in stored), str(recorder.sent), *ours])
    assert "leaked" in seen
    assert API_KEY not in seen and "Bearer" not in seen


def test_log_masking_covers_escaped_forms() -> None:
    """Libraries' own debug lines (httpcore traces the exception repr) are masked by the
    log redaction, which now knows the escaped forms too."""
    from balancebot.redact import SecretMask, variants

    line = repr(RuntimeError(f"Illegal header value {('Bearer ' + NEWLINE_KEY).encode()!r}"))
    masked = line
    for form in sorted(variants(NEWLINE_KEY), key=len, reverse=True):
        masked = masked.replace(form, "***")
    assert API_KEY not in masked
    with_key, without = SecretMask([NEWLINE_KEY]), SecretMask([])
    assert API_KEY not in with_key.safe_message(line)
    assert "Bearer" not in without.safe_message(line)


async def test_delivery_outlives_a_store_it_cannot_read(
    store_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    """On main the first failed read ended the dispatcher task: nothing was sent again."""
    from balancebot.delivery import Dispatcher
    from balancebot.store import OutboxEntry, Store

    from .test_store import note, snap

    class Unreadable(Store):
        failures = 2

        async def due_deliveries(self, now, limit=100, only=None):  # type: ignore[no-untyped-def]
            if self.failures:
                self.failures -= 1
                self.health.report("store", "cannot read the store: gone")
                raise StoreError("cannot read the store: gone")
            return await super().due_deliveries(now, limit, only)

    opened = await Store.open(store_url)
    store = Unreadable(opened._engine, opened._file)
    recorder = Recorder()
    dispatcher = Dispatcher(store, {"rec": recorder}, clock)
    delivered = asyncio.Event()
    dispatcher.listeners.append(lambda *_: delivered.set())
    stop = asyncio.Event()
    await store.save_check(snap(clock.now()), entries=[OutboxEntry("rec", "", note("a"))])
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        await asyncio.wait_for(delivered.wait(), 30)
    finally:
        stop.set()
        await task
        await opened.close()
    assert store.failures == 0
    assert [n.headline for n in recorder.sent if n.account == "prod"] == ["a"]
    assert recorder.sent[0].account == "balancebot"  # told first, without the store
