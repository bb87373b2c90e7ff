"""Issue 11 §2: the optional heartbeat to a push monitor (healthchecks.io convention)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.httpserver import LoopbackServer
from balancebot.redact import secrets_in
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

from .conftest import API_KEY


class PushMonitor(LoopbackServer):
    """Answers `/ping/<uuid>` as healthchecks.io does: 200 "OK", or whatever it is told."""

    def __init__(self) -> None:
        super().__init__()
        self.pings: list[str] = []
        self.status = 200
        self.hang = asyncio.Event()  # set: requests are never answered
        self.app.router.add_route("*", "/ping/{uuid}", self._ping)

    async def _ping(self, request: web.Request) -> web.Response:
        self.pings.append(request.method)
        if self.hang.is_set():
            await asyncio.Event().wait()  # never answers; the client's timeout ends it
        return web.Response(status=self.status, text="OK")


@pytest.fixture
async def monitor() -> AsyncIterator[PushMonitor]:
    async with PushMonitor() as server:
        yield server


def config_with(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, url: str, method: str
) -> Config:
    for name in ("prod", "dev"):
        simulator.add_account(f"{API_KEY}-{name}")
    return make_config(
        accounts=[
            {"name": n, "api_key": f"{API_KEY}-{n}", "base_url": simulator.base_url}
            for n in ("prod", "dev")
        ],
        notifiers=[{"name": "console", "type": "console"}],
        heartbeat={"url": url, "method": method, "timeout": "0.5s"},
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_beat_after_each_round_of_good_checks(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    monitor: PushMonitor,
    method: str,
) -> None:
    config = config_with(make_config, simulator, f"{monitor.url}/ping/abc", method)
    async with Daemon.open(config) as daemon:
        assert daemon.heartbeat is not None
        await daemon.check("prod")
        assert monitor.pings == []  # half a round
        beat = daemon.heartbeat.beats.wait()
        await daemon.check("dev")
        await asyncio.wait_for(beat, 10)
        simulator.fail_next(Fault(status=500))
        await daemon.check("prod")  # a failed check does not complete a round
        await daemon.check("dev")
        beat = daemon.heartbeat.beats.wait()
        await daemon.check("prod")
        await asyncio.wait_for(beat, 10)
    assert monitor.pings == [method, method]


async def test_failures_are_logged_once_and_never_hold_up_checks(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    monitor: PushMonitor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = config_with(make_config, simulator, f"{monitor.url}/ping/secret-uuid", "GET")
    caplog.set_level(logging.INFO)
    async with Daemon.open(config) as daemon:
        heartbeat = daemon.heartbeat
        assert heartbeat is not None

        async def round_and_beat() -> None:
            beat = heartbeat.beats.wait()
            await daemon.check("prod")
            await daemon.check("dev")
            await asyncio.wait_for(beat, 10)

        monitor.status = 503
        for _ in range(3):
            await round_and_beat()
        monitor.status = 200
        monitor.hang.set()  # the monitor stops answering: checks go on regardless
        beat = heartbeat.beats.wait()
        await daemon.check("prod")
        await daemon.check("dev")
        await daemon.check("prod")
        await daemon.check("dev")  # a second round while the first beat hangs: not doubled
        await asyncio.wait_for(beat, 10)  # ended by the 0.5 s timeout
        monitor.hang.clear()
        await round_and_beat()
    warnings = [r.getMessage() for r in caplog.records if r.name == "balancebot.heartbeat"]
    assert warnings == [
        "heartbeat: the push monitor was not told: HTTP 503",
        "heartbeat: the push monitor was not told: ReadTimeout",
        "heartbeat: delivered again",
    ]
    assert heartbeat.failed == 4 and heartbeat.sent == 1
    assert len(monitor.pings) == 5
    own = " ".join(r.getMessage() for r in caplog.records if r.name == "balancebot.heartbeat")
    assert "secret-uuid" not in own
    # the URL is a secret: masked wherever else it shows up (httpx's request lines)
    assert f"{monitor.url}/ping/secret-uuid" in secrets_in(config)
