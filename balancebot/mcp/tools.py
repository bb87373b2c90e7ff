"""What each MCP tool answers, as plain dicts: no MCP SDK here, so every answer is tested
without a transport, and the same answers go out over stdio and HTTP.

`balances`, `alerts` and `status` are the status page's document (status/document.py) in
its documented wire form, cut to what the client may see: the page, its JSON and the
tools cannot disagree. Authorization is chat's: the accounts a client may see are
`[mcp] accounts` (default: every account), checked here once for every tool; naming an
account outside them gets the same answer as naming one that does not exist. Muting
changes the store exactly as chat's /mute and /unmute do (commands/alerting.py),
recorded as `mcp:<client name>`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import msgspec

from ..clock import Clock
from ..commands.alerting import (
    MAX_HISTORY_DAYS,
    UsageError,
    add_silence,
    muted_what,
    parse_mute_span,
    silence_target,
    visible_silences,
)
from ..config import Config
from ..models import Severity
from ..quiet import quiet_until
from ..render import human_duration
from ..status.document import (
    ReadModel,
    StatusDocument,
    account_json,
    alert_json,
    as_json,
    load_status,
    moment,
    silence_json,
)
from ..store import Store
from .summary import Json, history_json

log = logging.getLogger(__name__)

MAX_CLIENT_NAME = 64


def client_label(name: str | None) -> str:
    """`mcp:<name>` from the client's own `clientInfo.name`: printable characters only, no
    spaces, at most 64 (it is shown in silence lists and chat)."""
    shown = "".join(c if c.isprintable() and not c.isspace() else "-" for c in name or "")
    return f"mcp:{shown.strip('-')[:MAX_CLIENT_NAME] or 'unknown'}"


class McpTools:
    """One configuration's tools over a store and a read model.

    `refresh` runs before each read (stdio: re-read what the daemon wrote); `unmuted` runs
    after an unmute ended something (the daemon: send what the mute held back now, as chat's
    /unmute does; without it, a running daemon does so within 30 s)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        model: ReadModel,
        clock: Clock,
        refresh: Callable[[], Awaitable[None]] | None = None,
        unmuted: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.clock = clock
        self._refresh = refresh
        self._unmuted = unmuted
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        """Follow a reloaded configuration's accounts and rules (its `[mcp]` section, which
        decides the tools offered, changes only with a restart)."""
        self.config = config
        allowed = config.mcp.accounts
        self.accounts: list[str] = [
            a.name for a in config.accounts if allowed is None or a.name in allowed
        ]
        self.full_access = len(self.accounts) == len(config.accounts)

    @property
    def allow_mute(self) -> bool:
        return self.config.mcp.allow_mute

    def _pick(self, account: str | None) -> list[str]:
        if account is None:
            return self.accounts
        if account not in self.accounts:  # the same answer whether it exists or not
            raise UsageError(f"no account '{account[:64]}' that this client may see")
        return [account]

    async def _document(self, accounts: list[str]) -> StatusDocument:
        """The status document of these accounts (their alerts, the client's silences)."""
        if self._refresh is not None:
            await self._refresh()
        now = self.clock.now()
        wanted = set(accounts)
        only = [a for a in self.config.accounts if a.name in wanted]
        config = msgspec.structs.replace(self.config, accounts=only)
        silences = await visible_silences(
            self.store,
            now,
            frozenset(self.accounts),
            self.full_access,
            [a.name for a in self.config.accounts],
        )
        return await load_status(config, self.model, self.store, silences, now)

    async def balances(self, account: str | None = None) -> Json:
        document = await self._document(self._pick(account))
        return {
            "generated_at": moment(document.generated_at),
            "accounts": [account_json(a) for a in document.accounts],
        }

    async def alerts(self) -> Json:
        document = await self._document(self.accounts)
        return {
            "generated_at": moment(document.generated_at),
            "alerts": [alert_json(a) for a in document.alerts],
        }

    async def history(self, account: str, days: int = 30) -> Json:
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise UsageError(f"days are 1 to {MAX_HISTORY_DAYS}")
        (name,) = self._pick(account)
        now = self.clock.now()
        since = now - timedelta(days=days)
        snapshots = await self.store.history(name, since, until=now)
        failed = await self.store.failure_count(name, since, now)
        summary = history_json(snapshots, failed, since, now, self.config.zone)
        return {"account": name, "days": days} | summary

    async def status(self) -> Json:
        document = await self._document(self.accounts)
        now = document.generated_at
        quiet = quiet_until(self.config.quiet_hours, now, self.config.zone, Severity.WARNING)
        return as_json(document) | {
            "alerts_firing": len(document.firing),
            "quiet_hours_until": moment(quiet),
        }

    async def mute(
        self,
        client: str,
        duration: str,
        account: str | None = None,
        rule: str | None = None,
        comment: str = "",
    ) -> Json:
        self._may_mute()
        span = parse_mute_span(duration)
        target = silence_target(
            self.config, frozenset(self.accounts), self.full_access, account, rule
        )
        now = self.clock.now()
        silence = await add_silence(self.store, now, span, target, client, comment)
        what = muted_what(*target)
        log.info("%s muted %s for %s", client, what, human_duration(span))
        return {"muted": what, "silence": silence_json(silence)}

    async def unmute(
        self, client: str, account: str | None = None, rule: str | None = None
    ) -> Json:
        """Ends every silence on exactly this account or rule, as chat's /unmute does."""
        self._may_mute()
        target = silence_target(
            self.config, frozenset(self.accounts), self.full_access, account, rule
        )
        ended = await self.store.end_silences(*target, self.clock.now())
        what = muted_what(*target)
        if ended:
            log.info("%s unmuted %s", client, what)
            if self._unmuted is not None:
                await self._unmuted()
        return {"unmuted": what, "silences_ended": ended}

    def _may_mute(self) -> None:
        if not self.allow_mute:
            raise UsageError("muting is off for MCP clients ([mcp] allow_mute = false)")
