"""What each MCP tool answers, as plain dicts: no MCP SDK here, so every answer is tested
without a transport, and the same answers go out over stdio and HTTP.

Authorization is chat's: the accounts a client may see are `[mcp] accounts` (default:
every account), checked here once for every tool; naming an account outside them gets the
same answer as naming one that does not exist. Muting changes the store exactly as chat's
/mute and /unmute do (commands/operations.py), recorded as `mcp:<client name>`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from ..clock import Clock
from ..commands.operations import (
    MAX_HISTORY_DAYS,
    UsageError,
    add_silence,
    current_alerts,
    muted_what,
    parse_mute_span,
    silence_json,
    silence_target,
    utc_iso,
    visible_silences,
)
from ..config import Config
from ..models import AlertKey, AlertState, AlertStatus, BalanceSnapshot, CheckResult, Severity
from ..quiet import quiet_until
from ..render import human_duration
from ..store import Store
from ..trends import outlook_since
from .summary import Json, history_json, outlook_json, result_json

log = logging.getLogger(__name__)

MAX_CLIENT_NAME = 64


class ReadModel(Protocol):
    """What the tools read of the engine: the daemon's live memory, or (stdio) the same
    read back from the store before each call."""

    def latest(self, account: str) -> CheckResult | None: ...

    def recent(self, account: str) -> list[CheckResult]: ...

    def states(self) -> Mapping[AlertKey, AlertState]: ...

    def last_success(self, account: str) -> datetime | None: ...


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
        self.config = config
        self.store = store
        self.model = model
        self.clock = clock
        self._refresh = refresh
        self._unmuted = unmuted
        every: list[str] = [a.name for a in config.accounts]
        allowed = config.mcp.accounts
        self.accounts = [a for a in every if allowed is None or a in allowed]
        self.full_access = len(self.accounts) == len(every)

    @property
    def allow_mute(self) -> bool:
        return self.config.mcp.allow_mute

    def _pick(self, account: str | None) -> list[str]:
        if account is None:
            return self.accounts
        if account not in self.accounts:  # the same answer whether it exists or not
            raise UsageError(f"no account '{account[:64]}' that this client may see")
        return [account]

    async def _read(self) -> None:
        if self._refresh is not None:
            await self._refresh()

    async def balances(self, account: str | None = None) -> Json:
        await self._read()
        now = self.clock.now()
        found = []
        for name in self._pick(account):
            result = self.model.latest(name)
            entry: Json = {"account": name, "provider": self._provider(name)}
            entry |= result_json(result)
            if isinstance(result, BalanceSnapshot):
                history = await self._history_for_outlook(result, now)
                for currency, balance in entry["balances"].items():
                    rules = self.config.rules_for(name)
                    balance |= outlook_json(rules, history, currency, now, self.config.zone)
            found.append(entry)
        return {"as_of": utc_iso(now), "accounts": found}

    def _provider(self, account: str) -> str:
        return next(a.provider for a in self.config.accounts if a.name == account)

    async def _history_for_outlook(
        self, result: BalanceSnapshot, now: datetime
    ) -> list[BalanceSnapshot]:
        """What /balance reads for a runway: the read model's history when it reaches back
        far enough, else the store's."""
        since = outlook_since(self.config.rules_for(result.account), now, self.config.zone)
        history = [r for r in self.model.recent(result.account) if isinstance(r, BalanceSnapshot)]
        if not history or history[0].taken_at > since:
            history = await self.store.history(result.account, since)
        if not history or history[-1].taken_at < result.taken_at:
            history.append(result)
        return history

    async def alerts(self) -> Json:
        rows = await current_alerts(self.store, frozenset(self.accounts))
        return {"as_of": utc_iso(self.clock.now()), "alerts": [r.as_json() for r in rows]}

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
        await self._read()
        now = self.clock.now()
        visible = frozenset(self.accounts)
        accounts = []
        for name in self.accounts:
            latest = self.model.latest(name)
            entry: Json = {"account": name, "provider": self._provider(name)}
            entry["state"] = result_json(latest)["state"]
            entry["last_check"] = utc_iso(latest.taken_at) if latest else None
            entry["last_success"] = utc_iso(self.model.last_success(name))
            accounts.append(entry)
        firing = [
            {
                "account": s.key.account,
                "rule": s.key.rule,
                "subject": s.key.subject,
                "severity": s.severity.name.lower() if s.severity else None,
                "since": utc_iso(s.started_at),
            }
            for s in sorted(self.model.states().values(), key=lambda s: s.key)
            if s.status is AlertStatus.FIRING and s.key.account in visible
        ]
        silences = await visible_silences(self.store, now, visible, self.full_access)
        quiet = quiet_until(self.config.quiet_hours, now, self.config.zone, Severity.WARNING)
        return {
            "as_of": utc_iso(now),
            "accounts": accounts,
            "alerts_firing": firing,
            "silences": [silence_json(s) for s in silences],
            "quiet_hours_until": utc_iso(quiet),
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
