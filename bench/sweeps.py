"""Sweeps: every account checked at once through the full pipeline, against httpx alone and
balancebot's own transport alone (`--only sweep`; `--only mixed` over five providers)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from common import Row, SimulatorProcess, config_for, timed


async def sweep(accounts: int, concurrency: int, repeats: int, mixed: bool = False) -> list[Row]:
    """Two baselines: httpx as it comes (one pool of `concurrency` connections), and the
    same GETs through balancebot's own transport, which shows what the pipeline adds.
    `mixed`: the accounts spread over five providers, each GET the one its provider makes."""
    from balancebot.config.values import NoOptions
    from balancebot.daemon import Daemon
    from balancebot.models import Notification
    from balancebot.notifiers import Notifier
    from balancebot.providers.contract import provider_class
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
