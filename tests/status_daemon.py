"""A running daemon with a status page, for the status page's HTTP and browser tests: three
accounts against the DeepSeek fake (one low, one fine, one with a revoked key), 30 days of
history in the store (spend, a top-up, a night of failed checks), a silence, and the
alerts the first checks fire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import (
    BalanceSnapshot,
    CheckFailure,
    CurrencyBalance,
    FailureKind,
    Notification,
)
from balancebot.store import Store
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .test_pipeline import Recorder

TOKEN = "status-token-0123456789abcdef"


async def seed_history(config: Config, now: datetime) -> None:
    """prod: 30 days from 50 CNY down by 4.50 a day, topped up by 100 twenty days ago,
    failing for eight hours three days ago; dev: flat 500 CNY and 20 USD."""
    store = await Store.open(config.store.database_url)
    try:
        balance = Decimal(50)
        for step in range(30 * 6):  # every 4 h
            at = now - timedelta(days=30) + timedelta(hours=4 * step)
            if step == 10 * 6:
                balance += 100
            if now - timedelta(days=3, hours=8) <= at < now - timedelta(days=3):
                failure = CheckFailure("prod", "deepseek", at, FailureKind.UNAVAILABLE, "HTTP 503")
                await store.save_check(failure)
                continue
            prod = {"CNY": CurrencyBalance(balance, Decimal(0), balance)}
            await store.save_check(BalanceSnapshot("prod", "deepseek", at, True, prod))
            dev = {
                "CNY": CurrencyBalance(Decimal(500), Decimal(0), Decimal(500)),
                "USD": CurrencyBalance(Decimal(20), Decimal(0), Decimal(20)),
            }
            await store.save_check(BalanceSnapshot("dev", "deepseek", at, True, dev))
            balance -= Decimal("0.75")
        await store.add_silence(
            "dev", None, now + timedelta(hours=2), "telegram:42 (ann)", now, "moving keys"
        )
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def status_daemon(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    language: str = "en",
    store: dict[str, str] | None = None,
    **http: Any,
) -> AsyncIterator[tuple[Daemon, str]]:
    """The daemon serving, its first checks made and their alerts sent; yields it and the
    URL of its [http] server."""
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0", "8.20")})
    simulator.add_account(f"{API_KEY}-dev", {"CNY": ("0", "500"), "USD": ("0", "20")})
    config = make_config(
        accounts=[
            {
                "name": n,
                "api_key": f"{API_KEY}-{n}",
                "base_url": simulator.base_url,
                "check_interval": "1h",
            }
            for n in ("prod", "dev", "broken")
        ],
        rules=[
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"CNY": {"warning_below": "30", "critical_below": "10"}},
            },
            {
                "name": "low-usd",
                "type": "threshold",
                "accounts": ["dev"],
                "thresholds": {"USD": {"warning_below": "5"}},
            },
            {"name": "failing", "type": "check_failed"},
        ],
        notifiers=[{"name": "rec", "type": "console"}],
        http={"enabled": True, "listen": "127.0.0.1:0", "status_page": True, **http},
        language=language,
        **({"store": store} if store else {}),
    )
    await seed_history(config, datetime.now(UTC))
    both = asyncio.Event()
    delivered: list[Notification] = []

    def seen(_: str, notification: Notification) -> None:
        delivered.append(notification)
        if {n.account for n in delivered} >= {"prod", "broken"}:
            both.set()

    stop = asyncio.Event()
    async with Daemon.open(config, notifiers={"rec": Recorder()}) as daemon:
        daemon.dispatcher.listeners.append(seen)
        serving = asyncio.create_task(daemon.serve(stop))
        try:
            await asyncio.wait_for(both.wait(), 30)
            assert daemon.server is not None
            yield daemon, daemon.server.url
        finally:
            stop.set()
            await serving
