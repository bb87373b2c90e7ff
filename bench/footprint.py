"""What running balancebot costs: an idle daemon's memory and CPU, and the 30-day chart
query over a year of history (a one-shot `check` process: oneshot.py)."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import Row, proc_stats, timed


async def idle_cost(idle_seconds: float) -> list[Row]:
    """The daemon with 10 accounts and both chat front-ends connected, doing nothing."""
    from balancebot.testing.deepseek import DeepSeekSimulator
    from balancebot.testing.processes import start_daemon
    from balancebot.testing.slack import FakeSlack
    from balancebot.testing.telegram import FakeTelegram

    token, slack_token, app_token = "1:idle", "xoxb-idle", "xapp-1-idle"
    async with (
        DeepSeekSimulator() as sim,
        FakeTelegram(token) as tg,
        FakeSlack(slack_token, app_token=app_token) as sl,
    ):
        tg.add_chat(42)
        sl.channels.add("C1")
        with tempfile.TemporaryDirectory() as tmp:
            lines = ['[store]\npath = "idle.db"\n']
            for i in range(10):
                sim.add_account(f"sk-{i}")
                lines.append(
                    f'[[accounts]]\nname = "a{i}"\napi_key = "sk-{i}"\n'
                    f'base_url = "{sim.base_url}"\ncheck_interval = "5m"\n'
                )
            lines.append(
                f'[[notifiers]]\nname = "tg"\ntype = "telegram"\nbot_token = "{token}"\n'
                f'chat_ids = [42]\nbase_url = "{tg.base_url}"\n'
            )
            lines.append(
                f'[[notifiers]]\nname = "sl"\ntype = "slack"\n'
                f'bot_token = "{slack_token}"\nchannels = ["C1"]\n'
                f'base_url = "{sl.api_url}"\n'
            )
            lines.append(
                f'[chat.telegram]\nnotifier = "tg"\n[chat.slack]\nnotifier = "sl"\n'
                f'app_token = "{app_token}"\n'
            )
            config = Path(tmp) / "idle.toml"
            config.write_text("\n".join(lines))
            process = await start_daemon(config)
            await sl.wait_connections(1)
            await asyncio.sleep(5)  # the first checks (all at start-up) are done
            rss, cpu_before = proc_stats(process.pid)
            await asyncio.sleep(idle_seconds)
            _, cpu_after = proc_stats(process.pid)
            process.terminate()
            await process.wait()
    return [
        Row(
            "idle: RSS after start-up, 10 accounts, Telegram polling + Slack Socket Mode",
            f"{rss:.0f} MiB",
            "",
            None,
            "< 100 MiB",
        ),
        Row(
            f"idle: CPU used over {idle_seconds:.0f} idle seconds",
            f"{cpu_after - cpu_before:.2f} s",
            "",
            None,
            "< 0.5 s",
        ),
    ]


async def history_at_scale(minutes: int) -> Row:
    from balancebot.charts import CHART_POINTS
    from balancebot.store import Store, snapshot_balances, snapshots

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "year.db"
        store = await Store.open(f"sqlite:///{path}")
        now = datetime.now(UTC)
        engine = store._engine  # bulk-loading a year is a benchmark's job, not the store's
        batch = 20_000
        for start in range(0, minutes, batch):
            rows = range(start, min(start + batch, minutes))
            async with engine.begin() as conn:
                await conn.execute(
                    snapshots.insert(),
                    [
                        {
                            "id": i + 1,
                            "account": "prod",
                            "provider": "deepseek",
                            "taken_at": now - timedelta(minutes=minutes - i),
                            "outcome": "ok",
                            "is_available": True,
                        }
                        for i in rows
                    ],
                )
                await conn.execute(
                    snapshot_balances.insert(),
                    [
                        {
                            "snapshot_id": i + 1,
                            "currency": "CNY",
                            "total": f"{1000 - i / 1000:.2f}",
                            "granted": "0.00",
                            "topped_up": f"{1000 - i / 1000:.2f}",
                        }
                        for i in rows
                    ],
                )
        full_size = path.stat().st_size
        since = datetime.now(UTC) - timedelta(days=30)
        everything = await timed(lambda: store.history("prod", since), 3)
        query = await timed(lambda: store.history("prod", since, max_points=CHART_POINTS), 3)
        removed = await store.downsample(since, timedelta(hours=1))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM")
        await store.close()
        small_size = path.stat().st_size
    return Row(
        f"history: {minutes} one-minute snapshots; 30-day chart query vs every row "
        f"(db {full_size / 2**20:.0f} MiB, {small_size / 2**20:.1f} MiB after downsampling "
        f"{removed} rows)",
        f"{query * 1000:.0f} ms",
        f"{everything * 1000:.0f} ms",
        query / everything,
        "< 100 ms",
    )
