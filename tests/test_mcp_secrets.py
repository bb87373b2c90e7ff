"""No MCP tool ever answers with a secret: every tool, with good and bad arguments, over
the SDK's client (in process), on a daemon whose failed check echoed its key back."""

from __future__ import annotations

import json
from collections.abc import Callable

from mcp import Client
from mcp_types import Implementation

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.mcp.server import build_server
from balancebot.mcp.tools import McpTools, client_label
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

from .conftest import API_KEY

TOKEN = "mcp-token-0123456789abcdef"
CALLS = [
    ("balances", {}),
    ("balances", {"account": "prod"}),
    ("balances", {"account": "staging"}),
    ("alerts", {}),
    ("history", {"account": "prod", "days": 2}),
    ("history", {"account": "prod", "days": 0}),
    ("status", {}),
    ("mute", {"duration": "1h", "account": "prod", "comment": "key rotation"}),
    ("mute", {"duration": "forever"}),
    ("unmute", {"account": "prod"}),
    ("unmute", {"rule": "nothing"}),
]


async def test_no_tool_answers_with_a_secret(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=[{"name": "failing", "type": "check_failed", "after_failures": 1}],
        http={"enabled": True, "listen": "127.0.0.1:0"},
        mcp={"http": True, "token": TOKEN, "allow_mute": True},
    )
    async with Daemon.open(config) as daemon:
        await daemon.pipeline.check("prod")  # a snapshot, then a failure naming the key
        simulator.fail_next(Fault(status=401, body=f'{{"error": "bad key {API_KEY}"}}'.encode()))
        await daemon.pipeline.check("prod")
        tools = McpTools(config, daemon.store, daemon.pipeline.memory, daemon.clock)
        answers = []
        async with Client(
            build_server(tools), client_info=Implementation(name=TOKEN, version="1")
        ) as client:
            for name, arguments in CALLS:
                answers.append((await client.call_tool(name, arguments)).model_dump_json())
    said = "\n".join(answers)
    assert '"outcome":"failed","available":null,"failure_kind":"auth"' in said  # it is there
    assert said.count('"is_error":true') == 4
    assert API_KEY not in said
    assert TOKEN not in said.replace(client_label(TOKEN), "")  # only as the client's own name


def test_client_labels_are_one_printable_word() -> None:
    assert client_label("Claude Desktop") == "mcp:Claude-Desktop"
    assert client_label("evil\nname\x1b[31m") == "mcp:evil-name-[31m"
    assert client_label("") == client_label(None) == "mcp:unknown"
    assert client_label("x" * 200) == "mcp:" + "x" * 64
    assert json.dumps(client_label("\u202eabc")) == '"mcp:abc"'
