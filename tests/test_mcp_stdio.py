"""`balancebot mcp` as a real process, driven by the MCP SDK's own client over stdio, on a
store the daemon filled by checking the simulator's accounts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import CallToolResult, Implementation

from balancebot.clock import SystemClock
from balancebot.commands.access import Caller
from balancebot.configure import load_config
from balancebot.daemon import Daemon
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn

from .conftest import API_KEY
from .test_alerts_and_silences_cli import write_config as write_accounts

TOKEN = "mcp-token-0123456789abcdef"
CONSOLE = Caller("console", "ops", "console")


def write_config(path: Path, store: str, base_url: str, mcp: str = "") -> Path:
    """`balancebot alerts`'s test configuration (prod, dev, a `low` rule), with /mcp."""
    write_accounts(path, store, base_url)
    extra = f"""
[http]
enabled = true
listen = "127.0.0.1:0"

[mcp]
http = true
token = "${{BALANCEBOT_MCP_TOKEN}}"
{mcp}
"""
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


async def fill(path: Path) -> None:
    """Two checks of each account, and the alerts they fired told."""
    async with Daemon.open(load_config(path, env={"BALANCEBOT_MCP_TOKEN": TOKEN})) as daemon:
        for _ in range(2):
            await daemon.pipeline.check("prod")
            await daemon.pipeline.check("dev")
        assert await daemon.dispatcher.deliver_due() >= 1


@pytest.fixture
async def filled(tmp_path: Path, store_url: str, simulator: DeepSeekSimulator) -> Path:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    simulator.add_account(f"{API_KEY}-dev", {"CNY": ("10.00", "50.00"), "USD": ("0", "3.5")})
    path = write_config(tmp_path / "config.toml", store_url, simulator.base_url)
    await fill(path)
    # as an assistant's client starts it: without the keys in its environment (nor a file)
    text = path.read_text(encoding="utf-8").replace(
        f'api_key = "{API_KEY}-dev"', 'api_key_file = "no-such-file"'
    )
    path.write_text(text.replace(f'"{API_KEY}"', '"${BALANCEBOT_TEST_NOT_SET}"'))
    return path


def stdio(config: Path) -> StdioServerParameters:
    """The command an assistant's client configuration names (no token in its env)."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", "balancebot", "mcp", "--config", str(config)]
    )


def data(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def error(result: CallToolResult) -> str:
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text
    return str(text)


async def test_the_tools_over_stdio_answer_from_the_daemons_store(filled: Path) -> None:
    async with Client(stdio(filled)) as client:
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == ["balances", "alerts", "history", "status"]
        assert all(t.annotations and t.annotations.read_only_hint for t in listed.tools)
        balances = data(await client.call_tool("balances", {}))
        alerts = data(await client.call_tool("alerts", {}))
        history = data(await client.call_tool("history", {"account": "dev", "days": 7}))
        status = data(await client.call_tool("status", {}))
        muting = await client.call_tool("mute", {"duration": "1h"})
    prod, dev = balances["accounts"]
    assert (prod["name"], prod["provider"]) == ("prod", "deepseek")
    assert (prod["last_check"]["outcome"], prod["last_check"]["available"]) == ("ok", True)
    [cny] = prod["balances"]
    assert (cny["currency"], cny["total"], cny["spent_today"]) == ("CNY", "5.00", "0")
    waiting = {"state": "not_enough_history", "covered_seconds": 0, "needed_seconds": 6 * 3600}
    assert cny["runway"] == waiting
    assert [(b["currency"], b["total"], b["granted"]) for b in dev["balances"]] == [
        ("CNY", "60.00", "10.00"),
        ("USD", "3.50", "0.00"),
    ]
    [alert] = alerts["alerts"]
    assert (alert["account"], alert["rule"], alert["subject"]) == ("prod", "low", "CNY")
    assert (alert["severity"], alert["status"]) == ("critical", "firing")
    assert alert["last_sent"] is not None
    assert history["account"] == "dev" and history["snapshots"] == 2
    assert history["failed_checks"] == 0
    cny = history["currencies"]["CNY"]
    assert (cny["first"]["total"], cny["last"]["total"], cny["spent"]) == ("60.00", "60.00", "0")
    assert len(cny["spent_per_day"]) == 7 and cny["spent_per_day"][-1]["spent"] == "0"
    assert [a["last_check"]["outcome"] for a in status["accounts"]] == ["ok", "ok"]
    assert status["accounts"] == balances["accounts"]  # one document, the status page's
    assert (status["alerts"], status["alerts_firing"]) == (alerts["alerts"], 1)
    assert (status["silences"], status["quiet_hours_until"]) == ([], None)
    assert "Unknown tool" in error(muting)  # read-only unless allow_mute = true


async def test_a_mute_over_stdio_is_the_daemons_mute(
    tmp_path: Path, store_url: str, simulator: DeepSeekSimulator
) -> None:
    """With `allow_mute` and `accounts = ["dev"]`: prod is invisible (as if it did not
    exist), dev can be muted, recorded as `mcp:<clientInfo.name>`, and the daemon's /status
    shows that mute as it shows one set in chat."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    simulator.add_account(f"{API_KEY}-dev", {"CNY": ("0.00", "15.00")})
    path = write_config(
        tmp_path / "config.toml",
        store_url,
        simulator.base_url,
        'allow_mute = true\naccounts = ["dev"]',
    )
    await fill(path)
    assistant = Implementation(name="Claude Desktop", version="1.0")
    async with Client(stdio(path), client_info=assistant) as client:
        assert [t.name for t in (await client.list_tools()).tools][-2:] == ["mute", "unmute"]
        balances = data(await client.call_tool("balances", {}))
        hidden = error(await client.call_tool("balances", {"account": "prod"}))
        missing = error(await client.call_tool("balances", {"account": "nothing"}))
        alerts = data(await client.call_tool("alerts", {}))
        everything = error(await client.call_tool("mute", {"duration": "1h"}))
        bad = error(await client.call_tool("mute", {"duration": "45d", "account": "dev"}))
        muted = data(
            await client.call_tool(
                "mute", {"duration": "2h", "account": "dev", "comment": "topping up"}
            )
        )
        status = data(await client.call_tool("status", {}))
    assert [a["name"] for a in balances["accounts"]] == ["dev"]
    assert hidden.endswith("no account 'prod' that this client may see")
    assert missing.endswith("no account 'nothing' that this client may see")
    assert [a["account"] for a in alerts["alerts"]] == ["dev"]  # prod's is not shown
    assert everything.endswith("name one of your accounts")
    assert "is not a duration from 1m to 30d" in bad
    silence = muted["silence"]
    assert (silence["account"], silence["rule"], silence["comment"]) == ("dev", None, "topping up")
    assert silence["created_by"] == "mcp:Claude-Desktop"
    assert [s["id"] for s in status["silences"]] == [silence["id"]]
    config = load_config(path, env={"BALANCEBOT_MCP_TOKEN": TOKEN})
    async with Daemon.open(config, SystemClock()) as daemon:
        reply = await daemon.commands.handle(CONSOLE, "/status")
    assert reply is not None
    assert any("dev until" in line and "(by mcp:Claude-Desktop)" in line for line in reply.details)
    async with Client(stdio(path), client_info=assistant) as client:
        ended = data(await client.call_tool("unmute", {"account": "dev"}))
        again = data(await client.call_tool("unmute", {"account": "dev"}))
    assert (ended["silences_ended"], again["silences_ended"]) == (1, 0)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_every_failure_of_the_command_is_one_line(
    tmp_path: Path, store_url: str, simulator: DeepSeekSimulator
) -> None:
    path = write_config(tmp_path / "config.toml", store_url, simulator.base_url)
    cases = {
        "no store yet": (["mcp", "-c", str(path)], "(balancebot run creates it)"),
        "no config": (["mcp", "-c", str(tmp_path / "none.toml")], "cannot read"),
    }
    for what, (args, said) in cases.items():
        process = await spawn(*args)
        out, err = await process.communicate()
        lines = err.decode().strip().splitlines()
        assert process.returncode != 0, what
        assert len(lines) == 1 and said in lines[0] and lines[0].startswith("balancebot: "), lines
        assert out == b""  # stdout is the protocol's: never an error text
    # without the SDK installed: what to install, in one line
    Path(store_url.removeprefix("sqlite:///")).touch()  # noqa: ASYNC240
    hide_sdk = (
        "import sys; sys.modules['mcp'] = None; from balancebot.cli.main import main; "
        f"main(['mcp', '-c', {str(path)!r}])"
    )
    process = await spawn_python(hide_sdk)
    _, err = await process.communicate()
    assert process.returncode == 1
    assert err.decode() == (
        "balancebot: `balancebot mcp` needs the MCP SDK: pip install 'balancebot[mcp]'\n"
    )


async def spawn_python(code: str) -> Any:
    import asyncio

    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


def test_the_readme_snippet_is_valid_json() -> None:
    """docs/mcp.md's client configuration parses and starts `balancebot mcp --config`."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "mcp.md").read_text()
    snippet = text.split("```json\n", 1)[1].split("```", 1)[0]
    server = json.loads(snippet)["mcpServers"]["balancebot"]
    assert server["command"] == "balancebot"
    assert server["args"][:2] == ["mcp", "--config"]
