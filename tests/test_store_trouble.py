"""Issue 11 §7 and §5: store trouble in one line, one daemon per SQLite file, private state
files, resolved notices only where the firing went, and a replay cache that survives a
restart."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.errors import StoreError
from balancebot.models import TransitionKind
from balancebot.store import Store
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from .conftest import API_KEY, SUMMARY
from .test_chat import APP_TOKEN, BODY, SIGNING_SECRET, SLACK_TOKEN, TG_TOKEN, chat_config, signed
from .test_pipeline import RULES, Recorder, step


async def test_second_daemon_on_one_sqlite_file_refuses_before_any_notifier(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    """On main both ran and every alert went out twice."""
    SUMMARY["fault cases tried"] += 1
    config = make_config(notifiers=[{"name": "rec", "type": "console"}])
    started: list[str] = []

    class Watched(Recorder):
        async def start(self) -> None:
            started.append(self.name)

    async with Daemon.open(config, clock, {"rec": Watched()}):
        with pytest.raises(StoreError, match="another balancebot is already running"):
            async with Daemon.open(config, clock, {"rec": Watched("second")}):
                pass
        assert started == ["rec"]  # the second never touched its notifiers
    async with Daemon.open(config, clock, {"rec": Watched("third")}):
        pass  # the lock went with the first daemon


async def test_state_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = await Store.open(f"sqlite:///{path}", exclusive=True)
    try:
        from .test_store import snap

        await store.save_check(snap(FakeClock().now()))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    finally:
        await store.close()
    assert modes == {f.name: 0o600 for f in files}


def corrupt(path: Path) -> None:
    """Overwrite the pages after the header: SQLite opens it, then reads garbage."""
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(b"\x42" * 4096 * 3)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["directory", "not-a-database", "corrupt-page", "postgres-down"])
async def test_every_command_prints_one_line_naming_the_cause(tmp_path: Path, case: str) -> None:
    """On main `history` printed 128-177 lines of traceback."""
    SUMMARY["fault cases tried"] += 1
    db = tmp_path / "state.db"
    store_section = f'[store]\npath = "{db}"\n'
    if case == "directory":
        db.mkdir()
        cause = "is a directory"
    elif case == "not-a-database":
        db.write_bytes(os.urandom(8192))
        cause = "file is not a database"
    elif case == "corrupt-page":
        store = await Store.open(f"sqlite:///{db}")
        from .test_store import snap

        clock = FakeClock()
        for _ in range(300):
            clock.advance(60)
            await store.save_check(snap(clock.now()))
        await store.close()
        corrupt(db)
        cause = "malformed"
    else:
        store_section = '[store]\nurl = "postgresql://u:pw@127.0.0.1:1/none"\n'
        cause = "nothing listens at 127.0.0.1:1"
    config = tmp_path / "c.toml"
    config.write_text(f'{store_section}[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\n')
    for command in (["history"], ["history", "--plot", str(tmp_path / "x.png")], ["run"]):
        process = await spawn(*command, "-c", str(config))
        _, err = await process.communicate()
        lines = err.decode().strip().splitlines()
        assert process.returncode == 1, (command, err)
        assert len(lines) == 1 and cause in lines[0], (command, lines)
        assert "pw@" not in lines[0]


async def test_resolved_goes_only_to_routes_told_the_alert_fired(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    """On main a muted firing, never seen, was followed by a RESOLVED nobody expected."""
    SUMMARY["fault cases tried"] += 1
    account = simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=RULES,
        notifiers=[{"name": "rec", "type": "console"}],
    )
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        await d.store.add_silence(
            "prod", "low", clock.now() + timedelta(minutes=7), "t", clock.now()
        )
        assert await step(d, clock) == [TransitionKind.FIRING]  # muted
        assert await step(d, clock) == []  # the silence ends
    account.topped_up["CNY"] = type(account.topped_up["CNY"])("100")
    async with Daemon.open(config, clock, {"rec": recorder}) as d:  # told routes persist
        assert await step(d, clock) == [TransitionKind.RESOLVED]
    assert recorder.sent == []
    account.topped_up["CNY"] = type(account.topped_up["CNY"])("5")
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        assert await step(d, clock) == [TransitionKind.FIRING]
    account.topped_up["CNY"] = type(account.topped_up["CNY"])("100")
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        assert await step(d, clock) == [TransitionKind.RESOLVED]
    assert [n.kind for n in recorder.sent] == [TransitionKind.FIRING, TransitionKind.RESOLVED]


async def test_replay_cache_survives_a_reopen(store: Store, clock: FakeClock) -> None:
    expires = clock.now() + timedelta(minutes=5)
    assert await store.first_seen("v0=abc", expires, clock.now())
    assert not await store.first_seen("v0=abc", expires, clock.now())
    assert store.health.healthy  # a replay is not store trouble
    clock.advance(301)
    assert await store.first_seen("v0=abc", clock.now() + timedelta(minutes=5), clock.now())


async def test_slack_http_replay_after_a_restart_is_refused(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    """On main the cache was in memory: a captured `/mute 30d` worked again after a restart."""
    SUMMARY["fault cases tried"] += 1

    async with (
        FakeTelegram(TG_TOKEN, clock) as telegram,
        FakeSlack(SLACK_TOKEN, app_token=APP_TOKEN) as slack,
    ):
        statuses = await replay_across_restart(make_config, simulator, clock, telegram, slack)
    assert statuses == [200, 401]


async def replay_across_restart(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> list[int]:
    from balancebot.integrations.slack.http import SlackHttpFrontEnd

    config = chat_config(
        make_config,
        simulator,
        telegram,
        slack,
        {"mode": "http", "signing_secret": SIGNING_SECRET},
        http={"enabled": True, "listen": "127.0.0.1:0"},
    )
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "110.00")})
    headers = signed(BODY, int(clock.now().timestamp()))
    statuses = []
    for _ in range(2):
        async with Daemon.open(config, clock) as d:
            front = next(f for f in d.front_ends if isinstance(f, SlackHttpFrontEnd))
            assert d.server is not None
            url = await d.server.serve()
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(f"{url}{front.PATH}", data=BODY, headers=headers) as response,
                ):
                    statuses.append(response.status)
            finally:
                await d.server.stop()
                await front.stop()
        clock.advance(60)
    return statuses


async def test_a_store_from_before_told_routes_keeps_its_resolved_notices(
    store_url: str,
) -> None:
    """Upgrading must not swallow the resolved notice of an alert firing at the time."""
    from alembic import command

    from balancebot.models import AlertKey, AlertState, AlertStatus, Severity
    from balancebot.store import OutboxEntry, migrations

    from .test_store import T0, note, snap

    key = AlertKey("prod", "low", "CNY")
    firing = AlertState(key, AlertStatus.FIRING, Severity.WARNING, 1, T0 - timedelta(hours=1), T0)
    store = await Store.open(store_url)
    try:
        await store.save_check(
            snap(T0),
            [firing],
            [OutboxEntry("tg", "42", note("a")), OutboxEntry("tg", "51", note("a"), muted=True)],
            T0,
        )
        async with store._engine.begin() as conn:  # back to the schema before revision 0004
            await conn.run_sync(lambda c: command.downgrade(migrations.alembic_config(c), "0003"))
    finally:
        await store.close()
    store = await Store.open(store_url)
    try:
        assert await store.told_routes() == {key: {("tg", "42")}}
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_database_that_never_answers_is_an_error_not_a_wait(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    """A PostgreSQL that accepts connections and never answers (a hung host, a network
    dropping everything) held `Store.open` and every query as long as the network did."""
    from sqlalchemy.engine import make_url

    from balancebot.store import base
    from balancebot.testing.netfaults import Proxy

    monkeypatch.setattr(base, "CONNECT_TIMEOUT", 0.5)
    monkeypatch.setattr(base, "STATEMENT_TIMEOUT", 0.5)
    server = make_url(postgres_url)
    async with Proxy(server.host or "127.0.0.1", server.port or 5432) as database:
        url = server.set(port=database.port).render_as_string(False)
        store = await Store.open(url)
        try:
            database.blackhole()  # mid-run: a pooled connection goes silent
            with pytest.raises(StoreError, match="cannot read the store"):
                await store.alert_states()
            assert "store" in store.health.problems()
        finally:
            await store.close()
        with pytest.raises(StoreError, match=r"cannot open the store.*TimeoutError"):
            await Store.open(url)  # at start
