"""Replicas sharing due checks through a PostgreSQL store (two daemons in one process stand
for two replicas): each due check runs on exactly one of them, alert state carries over
from one replica to the other without a second FIRING, and a dead replica's accounts are
checked again once its leases run out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from balancebot.config import Config, ThresholdRuleConfig
from balancebot.daemon import Daemon
from balancebot.delivery_lanes import Liveness
from balancebot.metrics import Metrics
from balancebot.ops_http import OpsServer
from balancebot.scheduler import default_jitter
from balancebot.store import async_url, leases, outbox
from balancebot.sweep import SharedSweep, lease_for
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.netfaults import Proxy

pytestmark = pytest.mark.postgres

ACCOUNTS = 6
# each account: fine, then low for the rest of the test
SCRIPT = ["100.00", "5.00"]


@pytest.fixture
def config_for(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config]
) -> Callable[[str], Config]:
    """The replicas' configuration, with their store at the URL given."""

    def build(url: str) -> Config:
        accounts: list[dict[str, Any]] = []
        for i in range(ACCOUNTS):
            key = f"sk-sweep-{i}"
            simulator.add_account(key, {"CNY": ("0", SCRIPT[0])}, script=[*map(_d, SCRIPT)])
            accounts.append(
                {"name": f"a{i}", "api_key": key, "base_url": simulator.base_url, "timeout": "1s"}
            )
        return make_config(
            accounts=accounts,
            store={"url": url},
            max_concurrent_checks=3,
            rules=[
                {
                    "name": "low",
                    "type": "threshold",
                    "repeat_interval": "1d",
                    "thresholds": {"CNY": {"warning_below": "20"}},
                }
            ],
        )

    return build


@pytest.fixture
def config(config_for: Callable[[str], Config], store_url: str) -> Config:
    if not store_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL store")
    return config_for(store_url)


def _d(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


async def hold_liveness(stack: AsyncExitStack, daemon: Daemon, url: str | None = None) -> None:
    """As `Daemon.run` does: the replica holds its liveness lock (on `url`, else the store's)
    while it lives; without it, other replicas take its claims over at once."""
    dispatcher = daemon.dispatcher
    if url is not None:
        dispatcher.liveness = Liveness(url, dispatcher.owner)
    liveness = dispatcher.liveness
    assert liveness is not None
    stop = asyncio.Event()
    holding = asyncio.create_task(liveness.run(stop))

    async def release() -> None:
        stop.set()
        await holding

    stack.push_async_callback(release)
    await asyncio.wait_for(liveness.elected.wait(), 10)


@pytest.fixture
async def replicas(
    config: Config, clock: FakeClock
) -> AsyncIterator[list[tuple[Daemon, SharedSweep]]]:
    async with AsyncExitStack() as stack:
        pairs = []
        for _ in range(2):
            daemon = await stack.enter_async_context(Daemon.open(config, clock))
            await hold_liveness(stack, daemon)
            sweep = SharedSweep(
                config,
                daemon.store,
                daemon.pipeline,
                clock,
                daemon.dispatcher.owner,
                live=daemon.dispatcher.alive,
            )
            await sweep.register()
            stack.push_async_callback(sweep.stop)
            pairs.append((daemon, sweep))
        yield pairs


async def _firing_rows(url: str) -> dict[str, int]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(outbox.c.account, sa.func.count())
                .where(outbox.c.kind == "firing")
                .group_by(outbox.c.account)
            )
            return {account: count for account, count in rows}
    finally:
        await engine.dispose()


def _all_due(config: Config) -> float:
    """Seconds after which every account checked now is due again, whatever its jitter."""
    account = config.accounts[0]
    return (account.check_interval + default_jitter(account)).total_seconds() + 1


async def round_of_checks(replicas: list[tuple[Daemon, SharedSweep]]) -> None:
    for _, sweep in replicas:
        await sweep.tick()
    for _, sweep in replicas:
        await sweep.settle()


async def test_each_due_check_runs_on_one_replica_and_state_carries_over(
    replicas: list[tuple[Daemon, SharedSweep]],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    config: Config,
) -> None:
    interval = config.accounts[0].check_interval
    await round_of_checks(replicas)  # 3 accounts each (max_concurrent_checks)
    assert [a.requests for a in simulator.accounts.values()] == [1] * ACCOUNTS
    # each check's next time was written with its results: none is still due or leased
    store = replicas[0][0].store
    assert await store.next_check_due() >= clock.now() + interval  # type: ignore[operator]
    assert await store.claim_due_checks("x", clock.now(), interval, 10) == []
    for rounds in range(2, 5):
        clock.advance(_all_due(config))
        await round_of_checks(replicas)
        assert [a.requests for a in simulator.accounts.values()] == [rounds] * ACCOUNTS
    # each account went low once: one FIRING each, whichever replica checked it
    assert await _firing_rows(config.store.database_url) == {f"a{i}": 1 for i in range(ACCOUNTS)}


async def test_a_dead_replicas_accounts_are_checked_after_its_lease(
    replicas: list[tuple[Daemon, SharedSweep]],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    config: Config,
) -> None:
    (_, alive), (dead_daemon, _) = replicas
    # the dead replica claimed three accounts and died before checking them
    claimed = await dead_daemon.store.claim_due_checks(
        "dead", clock.now(), lease_for(config.accounts[0]), 3
    )
    assert len(claimed) == 3
    await alive.tick()
    await alive.settle()
    checked = {
        name
        for name, a in zip(
            sorted(f"a{i}" for i in range(ACCOUNTS)), simulator.accounts.values(), strict=True
        )
        if a.requests
    }
    assert checked.isdisjoint(claimed) and len(checked) == 3
    clock.advance(lease_for(config.accounts[0]).total_seconds())
    await alive.tick()
    await alive.settle()
    assert all(a.requests == 1 for a in simulator.accounts.values())
    assert lease_for(config.accounts[0]) == timedelta(seconds=4)


async def test_a_killed_replicas_claimed_checks_are_taken_over_at_once(
    replicas: list[tuple[Daemon, SharedSweep]],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    config: Config,
    store_url: str,
) -> None:
    """On main they waited out their leases (3 x the account's timeout + 1 s: 4 s here, 91 s
    with the default 30 s timeout) although PostgreSQL knew the replica was gone."""
    (daemon, alive), _ = replicas
    dead = leases.new_owner()  # a replica holding its liveness lock, as a running one does
    plain = make_url(store_url).set(drivername="postgresql").render_as_string(False)
    replica = await asyncpg.connect(plain)
    await replica.execute("SELECT pg_advisory_lock($1)", leases.liveness_key(dead))
    lease = lease_for(config.accounts[0])
    claimed = await daemon.store.claim_due_checks(dead, clock.now(), lease, 3)
    assert len(claimed) == 3
    await alive.tick()
    await alive.settle()
    assert sum(a.requests for a in simulator.accounts.values()) == 3  # its claims hold
    admin = await asyncpg.connect(plain)
    try:
        pid = replica.get_server_pid()
        # the replica is killed, as the server sees it (PostgreSQL 14+ waits until it is gone)
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
    finally:
        replica.terminate()
        await admin.close()
    await alive.tick()  # no time has passed: the leases have not expired
    await alive.settle()
    assert [a.requests for a in simulator.accounts.values()] == [1] * ACCOUNTS


async def test_balance_on_one_replica_shows_the_check_another_made(
    replicas: list[tuple[Daemon, SharedSweep]], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    from balancebot.commands.access import Caller

    (_, sweep), (other, _) = replicas
    await sweep.tick()
    await sweep.settle()  # the first replica checked a0..a2
    checked = [a.requests for a in simulator.accounts.values()]
    name = f"a{checked.index(1)}"  # one the first replica checked (keys a0.. in order)
    console = Caller("console", "local", "console", "you")
    reply = await other.commands.handle(console, f"/balance {name}")
    assert reply is not None and f"{name} (checked just now):" in reply.details[0]
    assert "CNY: 100.00" in reply.details[1]
    # read from the store: no check of its own (it would write outside the leases)
    assert [a.requests for a in simulator.accounts.values()] == checked


async def test_a_claim_is_read_back_in_one_read_and_a_bad_account_fails_alone(
    replicas: list[tuple[Daemon, SharedSweep]],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    config: Config,
) -> None:
    (daemon, sweep), _ = replicas
    await round_of_checks(replicas)
    clock.advance(_all_due(config))
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    claims: list[int] = []
    claim = daemon.store.claim_due_checks

    async def counted_claim(*args: Any) -> list[str]:
        claims.append(len(claimed := await claim(*args)))
        return claimed

    engine = daemon.store._engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    daemon.store.claim_due_checks = counted_claim  # type: ignore[method-assign]
    try:
        await sweep.tick()  # claims three accounts (max_concurrent_checks), then the rest
        await sweep.settle()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
        daemon.store.claim_due_checks = claim  # type: ignore[method-assign]
    assert [a.requests for a in simulator.accounts.values()] == [2] * ACCOUNTS
    batches = sum(1 for n in claims if n)
    assert 1 < batches < ACCOUNTS, claims
    reads = [s for s in statements if s.startswith("SELECT")]
    assert sum(" FROM alert_states" in s for s in reads) == batches, reads
    assert sum(" FROM alert_routes" in s for s in reads) == batches, reads

    # an alert state no version of balancebot writes: that account's read fails, alone
    async with daemon.store._engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM check_schedule WHERE account <> 'a0'"))
        await conn.execute(sa.text("UPDATE alert_states SET status = 'bogus' WHERE account = 'a0'"))
        await conn.execute(
            sa.text("UPDATE check_schedule SET next_at = 0, owner = NULL, until = NULL")
        )
    await sweep.register()  # the others come back, due now
    before = [a.requests for a in simulator.accounts.values()]
    await sweep.tick()
    await sweep.settle()
    after = [a.requests for a in simulator.accounts.values()]
    assert after[0] == before[0]  # a0 could not be read: not checked from a stale memory
    assert sum(after) - sum(before) == ACCOUNTS - 1  # but those claimed with it were


async def test_replicas_spread_checks_by_the_default_jitter(
    replicas: list[tuple[Daemon, SharedSweep]], clock: FakeClock, config: Config
) -> None:
    """On main a replica scheduled every account's next check at the same instant when no
    `jitter` was configured (a single instance spreads them by 10% of the interval)."""
    interval = config.accounts[0].check_interval
    assert config.accounts[0].jitter is None
    started = clock.now()
    await round_of_checks(replicas)
    engine = create_async_engine(async_url(config.store.database_url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(leases.check_schedule.c.next_at))
            next_at = [row[0] for row in rows]
    finally:
        await engine.dispose()
    assert len(next_at) == ACCOUNTS
    assert all(started + interval <= at <= started + interval * 1.1 for at in next_at), next_at
    assert len(set(next_at)) == ACCOUNTS, next_at  # spread, not all at once


async def test_a_store_outage_is_one_line_and_its_end_another(
    config_for: Callable[[str], Config],
    store_url: str,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main each tick (two a second) raised into APScheduler, which logged a traceback of
    about 115 lines: 7,000 lines a replica for PostgreSQL gone 30 s (the store's health and
    the self alert already say it loudly)."""
    if not store_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL store")
    server = make_url(store_url)
    async with Proxy(server.host or "127.0.0.1", server.port or 5432) as database:
        config = config_for(server.set(port=database.port).render_as_string(False))
        async with AsyncExitStack() as stack:
            daemon = await stack.enter_async_context(Daemon.open(config, clock))
            await hold_liveness(stack, daemon, store_url)  # not through the cut
            sweep = daemon.sweep
            assert sweep is not None
            await database.cut()
            with caplog.at_level(logging.INFO, logger="balancebot.sweep"):
                for _ in range(4):
                    await sweep.tick()  # nothing raised into the scheduler
                await database.restore()
                await sweep.tick()
                await sweep.settle()
    lines = [r for r in caplog.records if r.name == "balancebot.sweep"]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.INFO], lines
    assert "cannot claim due checks" in lines[0].getMessage()
    assert [a.requests for a in simulator.accounts.values()] == [1] * ACCOUNTS  # back at work


async def test_a_stopping_replica_hands_its_claimed_checks_back_due_now(
    replicas: list[tuple[Daemon, SharedSweep]], simulator: DeepSeekSimulator
) -> None:
    """On main a replica stopped (SIGTERM) mid-sweep left the checks it had claimed to their
    leases, or rescheduled them an interval later as if checked: the other replica took
    them over late, and one of each account's checks was skipped."""
    (_, stopping), (_, other) = replicas
    await stopping.tick()  # claims three accounts (max_concurrent_checks)
    await stopping.stop()  # before any of their checks finished
    assert [a.requests for a in simulator.accounts.values()] == [0] * ACCOUNTS
    await other.tick()
    await other.settle()
    assert [a.requests for a in simulator.accounts.values()] == [1] * ACCOUNTS


async def test_replicas_with_different_account_lists_check_every_account(
    config: Config, clock: FakeClock, simulator: DeepSeekSimulator
) -> None:
    """A rolling configuration change: the new file lists three of the six accounts. Its
    replica used to delete the others' schedule rows at start, so the old replica never
    checked them again; and it claimed accounts it did not list and sat on their leases."""
    fewer = msgspec.structs.replace(config, accounts=config.accounts[:3])
    async with AsyncExitStack() as stack:
        sweeps = []
        for each in (config, fewer):  # the old replica, then the new one starts
            daemon = await stack.enter_async_context(Daemon.open(each, clock))
            await hold_liveness(stack, daemon)
            sweep = SharedSweep(each, daemon.store, daemon.pipeline, clock, daemon.dispatcher.owner)
            await sweep.register()
            stack.push_async_callback(sweep.stop)
            sweeps.append(sweep)
        old, new = sweeps
        for rounds in range(1, 4):
            await new.tick()  # first: it claims accounts it does not list, and hands them back
            await new.settle()
            await old.tick()
            await old.settle()
            assert [a.requests for a in simulator.accounts.values()] == [rounds] * ACCOUNTS
            clock.advance(_all_due(config))
        assert new._foreign == {"a3", "a4", "a5"}  # never claimed by it again


async def test_a_replica_is_ready_when_another_made_the_checks(
    replicas: list[tuple[Daemon, SharedSweep]], simulator: DeepSeekSimulator, config: Config
) -> None:
    """Readiness counted only a replica's own checks: with three replicas each saw an
    account's check a third of the time, and /readyz flapped to 503 ("no successful check
    for 9 s" at a 3 s interval). It reads the others' checks from the store first."""
    (checker, sweep), (idle, _) = replicas
    await sweep.tick()  # claims three, then the rest as they finish
    await sweep.settle()
    assert [a.requests for a in simulator.accounts.values()] == [1] * ACCOUNTS
    for daemon, ready in ((checker, 200), (idle, 200)):
        ops = OpsServer(config, Metrics(), daemon.store, daemon.memory, daemon.clock)
        response = await ops._readyz(None)  # type: ignore[arg-type]  # the handler alone
        assert response.status == ready, response.text


async def _sessions_settle(sweep: SharedSweep, config: Config) -> None:
    """Until only `config`'s replicas have sessions (a closed one ends a moment later)."""
    async with asyncio.timeout(15):
        while await sweep._store.configurations() != {config.fingerprint()}:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # polling the server's state, not waiting on ours


async def test_replicas_with_different_rules_say_so(
    config: Config, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Two files giving one rule different thresholds made an alert fire and resolve as the
    replicas took turns, and nothing said why. Each replica names its configuration in its
    database sessions; a replica that sees another's says so, once per change."""
    rule = config.rules[0]
    assert isinstance(rule, ThresholdRuleConfig)
    limits = msgspec.structs.replace(rule.thresholds["CNY"], warning_below=_d("30"))
    other = msgspec.structs.replace(
        config, rules=[msgspec.structs.replace(rule, thresholds={"CNY": limits})]
    )
    assert other.fingerprint() != config.fingerprint()

    def said(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == level]

    with caplog.at_level(logging.INFO, logger="balancebot.sweep"):
        async with AsyncExitStack() as stack:
            sweeps = []
            for each in (config, config):
                daemon = await stack.enter_async_context(Daemon.open(each, clock))
                sweeps.append(SharedSweep(each, daemon.store, daemon.pipeline, clock, "r"))
            first = sweeps[0]
            assert await first._store.configurations() == {config.fingerprint()}  # own database
            await first.register()
            assert said(logging.WARNING) == []  # two replicas, one configuration
            async with Daemon.open(other, clock):
                await first.compare_configurations()
                await first.compare_configurations()  # said once per change
                mine = f"this one {config.fingerprint()}"  # the other replica says it too
                (warned,) = [m for m in said(logging.WARNING) if mine in m]
                assert "replicas run 2 different configurations" in warned
                assert other.fingerprint() in warned
            await _sessions_settle(first, config)  # the other's, as the server ends them
            await first.compare_configurations()
            assert any("one configuration again" in m for m in said(logging.INFO))
