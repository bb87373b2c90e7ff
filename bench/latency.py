"""Latency: from the fetch that crosses a threshold to the chat fakes holding the alert, and
from a /balance command to its reply (through PTB vs a bare handler)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from common import Row


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def alert_latency(alerts: int) -> list[Row]:
    """From the end of the fetch that crosses a threshold to the fakes holding the message."""
    from balancebot.configure import parse_config
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


async def command_latency(commands: int) -> Row:
    """/balance through the real PTB Application vs a bare CommandHandler, same fake."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

    from balancebot.configure import parse_config
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
