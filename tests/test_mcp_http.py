"""`/mcp` on a running daemon's `[http]` server, driven by the MCP SDK's own streamable
HTTP client: with the token (both protocol eras), without it, with a wrong one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError
from balancebot.models import Notification
from balancebot.reload import reload_config
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .test_mcp_stdio import data, error

TOKEN = "mcp-token-0123456789abcdef"
ASSISTANT = Implementation(name="remote-assistant", version="2.0")


def daemon_config(
    make_config: Callable[..., Config], base_url: str, names: list[str], **mcp: Any
) -> Config:
    return make_config(
        accounts=[{"name": n, "api_key": f"{API_KEY}-{n}", "base_url": base_url} for n in names],
        rules=[{"name": "low", "type": "threshold", "thresholds": {"CNY": {"critical_below": 10}}}],
        http={"enabled": True, "listen": "127.0.0.1:0"},
        mcp={"http": True, "token": TOKEN, "allow_mute": True} | mcp,
    )


@pytest.fixture
async def daemon_url(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> AsyncIterator[tuple[Daemon, str]]:
    """A running daemon that has checked both accounts and told prod's low balance."""
    for name, cny in (("prod", "5.00"), ("dev", "50.00"), ("ops", "70.00")):
        simulator.add_account(f"{API_KEY}-{name}", {"CNY": ("0.00", cny)})
    config = daemon_config(make_config, simulator.base_url, ["prod", "dev"])
    told = asyncio.Event()

    def seen(_: str, notification: Notification) -> None:
        told.set()

    stop = asyncio.Event()
    async with Daemon.open(config) as daemon:
        daemon.dispatcher.listeners.append(seen)
        serving = asyncio.create_task(daemon.serve(stop))
        await asyncio.wait_for(told.wait(), 30)  # the server is up before the first check
        assert daemon.server is not None
        try:
            yield daemon, f"{daemon.server.url}/mcp"
        finally:
            stop.set()
            await serving


def connect(url: str, token: str | None = TOKEN, mode: Any = "auto") -> Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    http = httpx2.AsyncClient(headers=headers, timeout=30)  # its 5 s default: a busy CI
    transport = streamable_http_client(url, http_client=http)
    return Client(transport, client_info=ASSISTANT, mode=mode)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_tools_over_http_with_the_token(
    daemon_url: tuple[Daemon, str], mode: str
) -> None:
    """`auto` speaks the 2026 protocol (one self-contained request each), `legacy` the
    2025 one (an initialize handshake and a session): both name the client in mutes."""
    daemon, url = daemon_url
    async with connect(url, mode=mode) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        balances = data(await client.call_tool("balances", {"account": "prod"}))
        alerts = data(await client.call_tool("alerts", {}))
        muted = data(await client.call_tool("mute", {"duration": "30m", "rule": "low"}))
        unmuted = data(await client.call_tool("unmute", {"rule": "low"}))
        wrong = error(await client.call_tool("history", {"account": "prod", "days": 400}))
    assert names == ["balances", "alerts", "history", "status", "mute", "unmute"]
    [prod] = balances["accounts"]
    assert [(b["currency"], b["total"]) for b in prod["balances"]] == [("CNY", "5.00")]
    assert [(a["account"], a["status"]) for a in alerts["alerts"]] == [("prod", "firing")]
    assert muted["silence"]["created_by"] == "mcp:remote-assistant"
    assert (muted["silence"]["account"], muted["silence"]["rule"]) == (None, "low")
    assert unmuted["silences_ended"] == 1
    assert wrong.endswith("days are 1 to 365")
    silences = await daemon.store.active_silences(daemon.clock.now())
    assert silences == []


async def test_no_token_no_answer(daemon_url: tuple[Daemon, str]) -> None:
    _, url = daemon_url
    for token in (None, "mcp-token-0123456789abcdeX", TOKEN + "0"):
        with pytest.raises(ExceptionGroup) as refused:  # how the SDK's client says a 401
            async with connect(url, token=token) as client:
                await client.list_tools()
        assert refused.group_contains(MCPError, match="Server returned an error response")
    async with aiohttp.ClientSession() as session:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        async with session.post(url, json=body) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert TOKEN not in await response.text()
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}
        async with session.get(url, headers=headers) as response:
            assert response.status == 405  # no server-initiated stream is held open
        headers = {"Authorization": f"bearer {TOKEN}", "Accept": "application/json"}
        hello = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "curl", "version": "8"},
            },
        }
        headers["Accept"] += ", text/event-stream"  # the scheme's case does not matter
        async with session.post(url, headers=headers, json=hello) as response:
            assert response.status == 200
            assert (await response.json())["result"]["serverInfo"]["name"] == "balancebot"


def test_http_needs_a_token_and_the_http_server(make_config: Callable[..., Config]) -> None:
    cases = {
        "set token (or token_file)": {"mcp": {"http": True}, "http": {"enabled": True}},
        "set enabled = true there": {"mcp": {"http": True, "token": TOKEN}},
        "token is shorter than 16 characters": {"mcp": {"token": "short"}},
        "mcp.accounts: no account named 'staging'": {"mcp": {"accounts": ["staging"]}},
    }
    for said, raw in cases.items():
        with pytest.raises(ConfigError) as problem:
            make_config(raw)
        assert said in str(problem.value), str(problem.value)


async def test_the_tools_follow_a_reload_and_mcp_waits_for_a_restart(
    daemon_url: tuple[Daemon, str], make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    daemon, url = daemon_url
    grown = daemon_config(make_config, simulator.base_url, ["prod", "dev", "ops"])
    assert await reload_config(daemon, lambda: grown)
    await daemon.pipeline.check("ops")
    read_only = daemon_config(make_config, simulator.base_url, ["prod", "ops"], allow_mute=False)
    assert await reload_config(daemon, lambda: read_only)  # "[mcp]" waits: said in one line
    async with connect(url) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        balances = data(await client.call_tool("balances", {}))
        gone = error(await client.call_tool("history", {"account": "dev"}))
    assert names[-2:] == ["mute", "unmute"]  # allow_mute as the daemon started
    assert [a["name"] for a in balances["accounts"]] == ["prod", "ops"]
    assert balances["accounts"][1]["balances"][0]["total"] == "70.00"
    assert gone.endswith("no account 'dev' that this client may see")
