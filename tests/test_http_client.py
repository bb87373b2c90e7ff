"""The HTTP client against real loopback servers: how many connections the lanes open and
to which host, and proxies from the environment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import httpx
import pytest
from aiohttp import web

from balancebot.config import Config
from balancebot.httpserver import LoopbackServer
from balancebot.providers import Fetcher, http_client
from balancebot.providers.deepseek import DeepSeekProvider
from balancebot.providers.lanes import LaneTransport
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY


class CountingServer(LoopbackServer):
    """Answers every GET; remembers the client port of each connection it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.connections: set[int] = set()
        self.release = asyncio.Event()
        self.release.set()
        self.waiting = 0
        self.all_waiting = asyncio.Event()
        self.expect_waiting = 0
        self.app.router.add_get("/{tail:.*}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.connections.add(request.transport.get_extra_info("peername")[1])
        if request.path == "/hang":
            await asyncio.Event().wait()
        if request.path == "/broken":
            return web.Response(status=500, text="no")
        self.waiting += 1
        if self.waiting == self.expect_waiting:
            self.all_waiting.set()
        await self.release.wait()
        self.waiting -= 1
        return web.Response(text="ok")


@pytest.fixture
async def server() -> AsyncIterator[CountingServer]:
    async with CountingServer() as running:
        yield running


def lanes(transport: LaneTransport) -> list[int]:
    return [lane.busy for lane in transport._lanes]


async def test_concurrent_requests_spread_over_lanes_and_reuse_their_connections(
    server: CountingServer,
) -> None:
    transport = LaneTransport(4, httpx.create_ssl_context())
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        server.release.clear()
        server.expect_waiting = 4
        first = [asyncio.create_task(http.get("/")) for _ in range(4)]
        # four requests held open at once can only be on four lanes, one connection each
        async with asyncio.timeout(10):
            await server.all_waiting.wait()
        assert lanes(transport) == [1, 1, 1, 1]
        server.release.set()
        assert [r.text for r in await asyncio.gather(*first)] == ["ok"] * 4

        responses = await asyncio.gather(*(http.get("/") for _ in range(40)))

    assert all(r.status_code == 200 for r in responses)
    assert len(server.connections) == 4  # kept alive and reused, never more than the lanes
    assert lanes(transport) == [0, 0, 0, 0]


async def test_failed_and_cancelled_requests_free_their_lane(server: CountingServer) -> None:
    transport = LaneTransport(2, httpx.create_ssl_context())
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        assert (await http.get("/broken")).status_code == 500
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await http.get("/hang")
        with pytest.raises(httpx.ConnectError):
            await http.get("http://127.0.0.1:1/")
        assert lanes(transport) == [0, 0]
        assert (await http.get("/")).text == "ok"


async def test_a_lane_keeps_to_the_host_its_connection_goes_to() -> None:
    transport = LaneTransport(2, httpx.create_ssl_context())
    async with (
        CountingServer() as a,
        CountingServer() as b,
        httpx.AsyncClient(transport=transport) as http,
    ):
        for _ in range(5):
            await http.get(f"{a.url}/")
            await http.get(f"{b.url}/")
    # without the preference both would take the first idle lane and reconnect every time
    assert (len(a.connections), len(b.connections)) == (1, 1)


async def test_a_proxy_in_the_environment_carries_the_requests(
    monkeypatch: pytest.MonkeyPatch,
    simulator: DeepSeekSimulator,
    make_config: Callable[..., Config],
) -> None:
    # the simulator stands in for the proxy: a host that does not resolve is reached only
    # if the request goes to the proxy, which answers it
    monkeypatch.setenv("HTTP_PROXY", simulator.base_url)
    simulator.add_account(API_KEY, {"CNY": ("0.00", "42.00")})
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": "http://deepseek.invalid"}]
    )
    async with http_client(config) as http:
        snapshot = await Fetcher(DeepSeekProvider(), http, FakeClock()).fetch(config.accounts[0])
    assert snapshot.balances["CNY"].total == Decimal("42.00")
