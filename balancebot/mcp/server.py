"""The tools registered with the SDK's `MCPServer`: names, descriptions (what an assistant
reads to choose a tool, so each says what it returns) and the read-only hints. `mute` and
`unmute` exist only with `[mcp] allow_mute = true`.

A tool's failure is one line in an error result: bad arguments say how to fix them, the
store's trouble says its cause, anything else says to look in balancebot's log (where the
traceback is, with every secret masked). No answer carries a key: the tools read balances,
alert states and silences, never the accounts' configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from ..commands.alerting import MAX_HISTORY_DAYS, UsageError
from ..errors import StoreError
from .tools import McpTools, client_label

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "balancebot watches the balances of LLM API accounts (DeepSeek, Moonshot, OpenRouter and "
    "others) and alerts a team in chat before they run out. Amounts are exact decimal "
    "strings; times are RFC 3339 in UTC. Use `balances` for money left and how long it "
    "lasts, `alerts` for what is wrong now, `history` for how spending went, `status` for "
    "an overview."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def client_name(ctx: Context) -> str:
    """`mcp:<clientInfo.name>` as the client introduced itself (initialize, or each
    request's envelope on the 2026 protocol)."""
    params = ctx.session.client_params
    return client_label(params.client_info.name if params is not None else None)


async def answer(work: Awaitable[dict[str, Any]], tool: str) -> dict[str, Any]:
    try:
        return await work
    except UsageError as exc:
        raise ToolError(str(exc)) from None
    except StoreError as exc:  # says its cause in one line
        log.error("mcp: %s failed: %s", tool, exc)
        raise ToolError(str(exc)) from None
    except Exception:
        log.exception("mcp: %s failed", tool)
        raise ToolError(f"{tool} failed; the error is in balancebot's log") from None


def build_server(tools: McpTools) -> MCPServer:
    server: MCPServer = MCPServer(
        "balancebot", version=version("balancebot"), instructions=INSTRUCTIONS
    )

    async def balances(account: str | None = None) -> dict[str, Any]:
        return await answer(tools.balances(account), "balances")

    async def alerts() -> dict[str, Any]:
        return await answer(tools.alerts(), "alerts")

    async def history(account: str, days: int = 30) -> dict[str, Any]:
        return await answer(tools.history(account, days), "history")

    async def status() -> dict[str, Any]:
        return await answer(tools.status(), "status")

    described: dict[Callable[..., Awaitable[dict[str, Any]]], str] = {
        balances: (
            "Each account's balances per currency, from its last successful check: total, "
            "granted, topped_up (limit and used for spend-capped keys), spent_today, and "
            "runway (state estimate, no_spend or not_enough_history; days, per_day, "
            "runs_out_at); with last_check (at, outcome ok or failed, available, "
            "failure_kind, message) and last_success. Omit `account` for every account "
            "this client may see."
        ),
        alerts: (
            "Alerts firing or pending now, most severe first: account, rule, subject (a "
            "currency or empty), severity, status, since, last_sent (null: not told yet)."
        ),
        history: (
            f"A summary of one account's balances over the last `days` (1 to "
            f"{MAX_HISTORY_DAYS}, default 30), per currency: first, last, low and high "
            "readings, total spent and topped_up, and spent_per_day for each day (null: no "
            "readings that day); with the number of snapshots and failed_checks. Not the "
            "raw rows."
        ),
        status: (
            "An overview, as the status page shows it: every account (as `balances` gives "
            "it), the open alerts, the active silences (who muted what, until when, why), "
            "alerts_firing (how many need action) and quiet_hours_until (null: none now)."
        ),
    }
    for fn, description in described.items():
        server.add_tool(fn, description=description, annotations=READ_ONLY, structured_output=True)
    if tools.allow_mute:
        _add_mute_tools(server, tools)
    return server


def _add_mute_tools(server: MCPServer, tools: McpTools) -> None:
    async def mute(
        duration: str,
        ctx: Context,
        account: str | None = None,
        rule: str | None = None,
        comment: str = "",
    ) -> dict[str, Any]:
        work = tools.mute(client_name(ctx), duration, account, rule, comment)
        return await answer(work, "mute")

    async def unmute(
        ctx: Context, account: str | None = None, rule: str | None = None
    ) -> dict[str, Any]:
        return await answer(tools.unmute(client_name(ctx), account, rule), "unmute")

    server.add_tool(
        mute,
        description=(
            "Silence alerts for `duration` (1m to 30d, like 30m, 2h or 1d12h), as chat's /mute "
            "does: of one `account`, one `rule`, both, or (neither) everything. Alerts go on "
            "being tracked, only not sent. `comment` says why (shown in silence lists). "
            "Returns the silence: id, account, rule, until, created_by."
        ),
        annotations=WRITES,
        structured_output=True,
    )
    server.add_tool(
        unmute,
        description=(
            "End the silences on exactly this `account`, `rule` or both (neither: the mutes "
            "of everything), as /unmute does; alerts they held back are sent. Returns how "
            "many silences ended."
        ),
        annotations=WRITES,
        structured_output=True,
    )
