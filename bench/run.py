"""Benchmarks: each measured against a baseline in the same run, on the same machine.

    python bench/run.py [--quick]

Prints one table; the README quotes the latest. Not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    name: str
    measured: str
    baseline: str
    ratio: float | None
    target: str

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}"
        return [self.name, self.measured, self.baseline, ratio, self.target]


class SimulatorProcess:
    """The fake servers in a process of their own, so they do not share our loop: the
    DeepSeek simulator, or with `mixed` every provider fake (`testing/providers.py`)."""

    def __init__(self, accounts: int, mixed: bool = False) -> None:
        module = "balancebot.testing.providers" if mixed else "balancebot.testing.deepseek"
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--accounts", str(accounts)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("READY "), line
        ready = line.removeprefix("READY ").strip()
        self.urls: dict[str, str] = json.loads(ready) if mixed else {"deepseek": ready}
        self.url = next(iter(self.urls.values()))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def config_for(urls: str | dict[str, str], accounts: int, tmp: str, concurrency: int) -> Any:
    """Accounts spread round-robin over the providers in `urls` (one URL: DeepSeek)."""
    from balancebot.config import parse_config

    served = sorted({"deepseek": urls}.items() if isinstance(urls, str) else urls.items())
    return parse_config(
        {
            "max_concurrent_checks": concurrency,
            "store": {"path": f"{tmp}/bench.db"},
            "accounts": [
                {
                    "name": f"a{i}",
                    "api_key": f"sk-sim-{i}",
                    "provider": served[i % len(served)][0],
                    "base_url": served[i % len(served)][1],
                }
                for i in range(accounts)
            ],
            "rules": [
                {
                    "name": "low",
                    "type": "threshold",
                    "thresholds": {"CNY": {"warning_below": "50", "critical_below": "10"}},
                }
            ],
            "notifiers": [{"name": "quiet", "type": "console"}],
        },
        Path(tmp),
        env={},
    )


async def timed(work: Callable[[], Awaitable[object]], repeats: int) -> float:
    """The best of `repeats` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best


async def sweep(accounts: int, concurrency: int, repeats: int, mixed: bool = False) -> list[Row]:
    """Two baselines: httpx as it comes (one pool of `concurrency` connections), and the
    same GETs through balancebot's own transport, which shows what the pipeline adds.
    `mixed`: the accounts spread over five providers, each GET the one its provider makes."""
    from balancebot.daemon import Daemon
    from balancebot.models import Notification
    from balancebot.notifiers import NoOptions, Notifier
    from balancebot.plugins import provider_class
    from balancebot.providers.engine import provider_options
    from balancebot.providers.lanes import LaneTransport

    class Quiet(Notifier):
        async def send(self, notification: Notification, target: str) -> None:
            return None

    server = SimulatorProcess(accounts, mixed)
    # Each client is kept warm across repeats, as the daemon's is: otherwise the
    # baselines pay for connections the pipeline does not.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = config_for(server.urls, accounts, tmp, concurrency)
            wanted = []
            for account in config.accounts:
                provider = provider_class(account.provider)()
                wanted += provider.requests(account, provider_options(provider, account))

            async def gets(http: httpx.AsyncClient) -> None:
                bound = asyncio.Semaphore(concurrency)

                async def one(url: str, headers: Any) -> None:
                    async with bound:
                        (await http.get(url, headers=headers)).json()

                await asyncio.gather(*(one(r.url, r.headers) for r in wanted))

            async with (
                Daemon.open(config, notifiers={"quiet": Quiet("quiet", NoOptions())}) as d,  # type: ignore[arg-type]
                httpx.AsyncClient(limits=limits) as bare,
                httpx.AsyncClient(
                    transport=LaneTransport(concurrency, httpx.create_ssl_context())
                ) as lanes,
            ):
                names = [f"a{i}" for i in range(accounts)]

                async def full() -> None:
                    await asyncio.gather(*(d.pipeline.check(n) for n in names))
                    await d.dispatcher.deliver_due()

                runs: dict[str, Callable[[], Awaitable[object]]] = {
                    "bare": lambda: gets(bare),
                    "lanes": lambda: gets(lanes),
                    "full": full,
                }
                best = dict.fromkeys(runs, float("inf"))
                for _ in range(repeats):  # interleaved: drift hits all alike
                    for name, run in runs.items():
                        best[name] = min(best[name], await timed(run, 1))
    finally:
        server.stop()
    what = "accounts over 5 providers" if mixed else "accounts"
    return [
        Row(
            f"sweep: {accounts} {what}, full pipeline vs bare httpx+gather",
            f"{best['full'] * 1000:.0f} ms",
            f"{best['bare'] * 1000:.0f} ms",
            best["full"] / best["bare"],
            "<= 1.25",
        ),
        Row(
            "sweep: the same, vs the GETs alone through balancebot's transport (lanes.py)",
            f"{best['full'] * 1000:.0f} ms",
            f"{best['lanes'] * 1000:.0f} ms",
            best["full"] / best["lanes"],
            "",
        ),
    ]


def startup(repeats: int) -> Row:
    # Bytecode as `pip install` leaves it: an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 (as on this project's machines) would otherwise recompile
    # balancebot's modules on every start, while httpx's come precompiled.
    compileall.compile_dir(ROOT / "balancebot", quiet=1)
    server = SimulatorProcess(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "c.toml"
            config.write_text(
                f'[[accounts]]\nname = "a"\napi_key = "sk-sim-0"\nbase_url = "{server.url}"\n'
            )
            check = [sys.executable, "-m", "balancebot", "check", "-c", str(config)]
            bare = [
                sys.executable,
                "-c",
                f"import httpx; httpx.get('{server.url}/user/balance', "
                "headers={'Authorization': 'Bearer sk-sim-0'}).json()",
            ]

            times: dict[str, list[float]] = {"bare": [], "check": []}
            for _ in range(repeats):  # interleaved, so drift in machine load hits both
                for name, command in (("bare", bare), ("check", check)):
                    started = time.perf_counter()
                    subprocess.run(command, capture_output=True, check=False)
                    times[name].append(time.perf_counter() - started)
            baseline, measured = statistics.median(times["bare"]), statistics.median(times["check"])
    finally:
        server.stop()
    return Row(
        "one-shot: balancebot check vs python -c httpx.get (median wall time)",
        f"{measured * 1000:.0f} ms",
        f"{baseline * 1000:.0f} ms",
        measured / baseline,
        "<= 1.5",
    )


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def alert_latency(alerts: int) -> list[Row]:
    """From the end of the fetch that crosses a threshold to the fakes holding the message."""
    from balancebot.config import parse_config
    from balancebot.daemon import Daemon
    from balancebot.providers import Fetcher
    from balancebot.testing.deepseek import DeepSeekSimulator
    from balancebot.testing.slack import FakeSlack
    from balancebot.testing.telegram import FakeTelegram

    fetched: dict[str, float] = {}
    fetch = Fetcher.fetch

    async def timed_fetch(self: Fetcher[Any], account: Any) -> Any:
        result = await fetch(self, account)
        fetched[account.name] = time.perf_counter()
        return result

    Fetcher.fetch = timed_fetch  # type: ignore[method-assign]
    lanes = 10  # alerts rotate over ten chats, so per-chat pacing never holds one back
    token, slack_token = "1:bench", "xoxb-bench"
    async with DeepSeekSimulator() as sim, FakeTelegram(token) as tg, FakeSlack(slack_token) as sl:
        tg.enforce_limits = False
        for i in range(lanes):
            sim.add_account(f"sk-{i}", {"CNY": ("0", "100")})
            tg.add_chat(100 + i)
            sl.channels.add(f"C{i}")
        with tempfile.TemporaryDirectory() as tmp:
            config = parse_config(
                {
                    "store": {"path": f"{tmp}/lat.db"},
                    "accounts": [
                        {"name": f"a{i}", "api_key": f"sk-{i}", "base_url": sim.base_url}
                        for i in range(lanes)
                    ],
                    "rules": [
                        {
                            "name": "low",
                            "type": "threshold",
                            "thresholds": {"CNY": {"critical_below": "10"}},
                        }
                    ],
                    "notifiers": [
                        *(
                            {
                                "name": f"tg{i}",
                                "type": "telegram",
                                "bot_token": token,
                                "chat_ids": [100 + i],
                                "base_url": tg.base_url,
                            }
                            for i in range(lanes)
                        ),
                        *(
                            {
                                "name": f"sl{i}",
                                "type": "slack",
                                "bot_token": slack_token,
                                "channels": [f"C{i}"],
                                "base_url": sl.api_url,
                            }
                            for i in range(lanes)
                        ),
                    ],
                    "routes": [
                        {"notifiers": [f"tg{i}", f"sl{i}"], "accounts": [f"a{i}"]}
                        for i in range(lanes)
                    ],
                },
                Path(tmp),
                env={},
            )
            telegram_ms, slack_ms = [], []
            stop = asyncio.Event()
            async with Daemon.open(config) as daemon:
                delivery = asyncio.create_task(daemon.dispatcher.run(stop))
                for n in range(alerts):
                    lane = n % lanes
                    low = sim.accounts[f"sk-{lane}"].topped_up["CNY"] > 10
                    sim.accounts[f"sk-{lane}"].topped_up["CNY"] = Decimal("5" if low else "100")
                    started = time.perf_counter()
                    await daemon.pipeline.check(f"a{lane}")
                    await tg.wait_sent(n + 1)
                    await sl.wait_posted(n + 1)
                    done = fetched[f"a{lane}"]
                    telegram_ms.append((tg.sent[-1]["at"] - done) * 1000)
                    slack_ms.append((sl.posted[-1]["at"] - done) * 1000)
                    await asyncio.sleep(max(0.0, 0.11 - (time.perf_counter() - started)))
                stop.set()
                await delivery
    Fetcher.fetch = fetch  # type: ignore[method-assign]
    return [
        Row(
            f"alert latency to {name} after the fetch, {alerts} alerts: p50 / p99",
            f"{percentile(values, 0.5):.1f} / {percentile(values, 0.99):.1f} ms",
            "",
            None,
            "p99 < 50 ms",
        )
        for name, values in (("Telegram", telegram_ms), ("Slack", slack_ms))
    ]


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MiB, CPU seconds used so far) of a process."""
    with open(f"/proc/{pid}/status") as status:
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return rss_kib / 1024, ticks / os.sysconf("SC_CLK_TCK")


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
            "< 120 MB",
        ),
        Row(
            f"idle: CPU used over {idle_seconds:.0f} idle seconds",
            f"{cpu_after - cpu_before:.2f} s",
            "",
            None,
            "< 0.5 s",
        ),
    ]


async def command_latency(commands: int) -> Row:
    """/balance through the real PTB Application vs a bare CommandHandler, same fake."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

    from balancebot.config import parse_config
    from balancebot.daemon import Daemon
    from balancebot.frontends import FrontEndState
    from balancebot.integrations.telegram.frontend import TelegramFrontEnd
    from balancebot.testing.deepseek import DeepSeekSimulator
    from balancebot.testing.telegram import FakeTelegram

    token = "1:latency"

    async def round_trips(fake: FakeTelegram, text: str) -> list[float]:
        """Commands 50 ms apart: under Telegram's ~30 messages/s a bot must keep to (the
        daemon paces replies to 25/s, so a faster stream would measure the pacing)."""
        times = []
        for n in range(commands):
            chat = 10_000 + n  # a chat each: Telegram's per-chat pacing is not measured here
            fake.add_chat(chat)
            started = time.perf_counter()
            await fake.command(text, user_id=42, chat_id=chat)
            sent = await fake.wait_sent(len(fake.sent) + 1)
            times.append((sent[-1]["at"] - started) * 1000)
            await asyncio.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))
        return times

    async with DeepSeekSimulator() as sim, FakeTelegram(token) as tg:
        tg.enforce_limits = False
        tg.add_chat(42)
        sim.add_account("sk-0")

        async def constant(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text("ok")

        bare = ApplicationBuilder().token(token).base_url(tg.base_url).job_queue(None).build()
        bare.add_handler(CommandHandler("balance", constant))
        await bare.initialize()
        assert bare.updater is not None
        await bare.updater.start_polling(timeout=30)
        await bare.start()
        baseline = await round_trips(tg, "/balance")
        await bare.updater.stop()
        await bare.stop()
        await bare.shutdown()

        with tempfile.TemporaryDirectory() as tmp:
            config = parse_config(
                {
                    "store": {"path": f"{tmp}/cmd.db"},
                    "accounts": [{"name": "prod", "api_key": "sk-0", "base_url": sim.base_url}],
                    "notifiers": [
                        {
                            "name": "tg",
                            "type": "telegram",
                            "bot_token": token,
                            "chat_ids": [42],
                            "base_url": tg.base_url,
                        }
                    ],
                    "chat": {
                        "telegram": {"notifier": "tg"},
                        "allow": [{"platform": "telegram", "users": [42], "any_chat": True}],
                    },
                },
                Path(tmp),
                env={},
            )
            async with Daemon.open(config) as daemon:
                await daemon.pipeline.check("prod")  # a fresh snapshot to answer from
                front = next(f for f in daemon.front_ends if isinstance(f, TelegramFrontEnd))
                front.start()
                await front.wait_state(FrontEndState.CONNECTED)
                measured = await round_trips(tg, "/balance")
                await front.stop()
    p50, p99 = percentile(measured, 0.5), percentile(measured, 0.99)
    b50, b99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
    return Row(
        f"command latency: /balance through PTB vs a bare CommandHandler, {commands} commands",
        f"p50 {p50:.1f} / p99 {p99:.1f} ms",
        f"p50 {b50:.1f} / p99 {b99:.1f} ms",
        p50 / b50,
        "<= 1.3",
    )


BENCHMARKS = ("idle", "alert", "command", "sweep", "mixed", "startup", "history")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run just these")
    args = parser.parse_args()
    accounts, repeats, minutes = (200, 3, 60 * 24 * 30) if args.quick else (1000, 5, 525_600)
    benchmarks: dict[str, Callable[[], list[Row]]] = {
        "idle": lambda: asyncio.run(idle_cost(15 if args.quick else 60)),
        "alert": lambda: asyncio.run(alert_latency(200)),
        "command": lambda: [asyncio.run(command_latency(500))],
        "sweep": lambda: asyncio.run(sweep(accounts, 50, repeats)),
        "mixed": lambda: asyncio.run(sweep(accounts, 50, repeats, mixed=True)),
        "startup": lambda: [startup(7 if args.quick else 21)],
        "history": lambda: [asyncio.run(history_at_scale(minutes))],
    }
    rows = [row for name in args.only or BENCHMARKS for row in benchmarks[name]()]
    header = ["benchmark", "measured", "baseline", "ratio", "target"]
    table = [header, *(row.cells() for row in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"\n{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
