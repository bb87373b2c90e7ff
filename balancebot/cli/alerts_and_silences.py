"""`balancebot alerts` and `balancebot silences`: alert state and mutes without chat.

Built on the chat command layer (`commands/alerting.py`): the same access check, argument
grammar, store reads and writes as /alerts, /mute and /unmute, so a terminal and a chat
cannot disagree. The caller is recorded as `cli:<unix user>`. Nothing starts the daemon,
and a store that does not exist yet is an error, never created here.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from ..clock import Clock, SystemClock
from ..commands.access import Access, Caller
from ..commands.alerting import (
    AlertRow,
    add_silence,
    current_alerts,
    parse_mute_span,
    parse_silence_matchers,
    restricted,
    silence_target,
    visible_silences,
)
from ..config import Config
from ..errors import StoreError
from ..models import Silence
from ..printable import shown  # comments stored before they were checked
from ..render import human_duration, local_time
from ..store import Store, async_url


def cli_caller() -> Caller:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        user = "unknown"
    return Caller("cli", user, "", private=True)


def existing_store(config: Config) -> str:
    """The configured store's URL, if it exists: reading state must not create one."""
    url = make_url(async_url(config.store.database_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.is_file():
            raise StoreError(f"no store at {path} (balancebot run creates it); check store.path")
    return config.store.database_url


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def alerts_output(rows: list[AlertRow], config: Config, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            [
                {
                    "account": r.account,
                    "rule": r.rule,
                    "subject": r.subject,
                    "severity": r.severity,
                    "status": r.status,
                    "since": _iso(r.since),
                    "last_sent": _iso(r.last_sent),
                }
                for r in rows
            ],
            indent=2,
        )
    if not rows:
        return "no alerts firing or pending"
    zone = config.zone

    def when(moment: datetime | None) -> str:
        return "-" if moment is None else local_time(moment, zone)

    header = ("ACCOUNT", "RULE", "SUBJECT", "SEVERITY", "STATUS", "SINCE", "LAST SENT")
    body = [
        (
            r.account,
            r.rule,
            r.subject or "-",
            r.severity,
            r.status,
            when(r.since),
            when(r.last_sent),
        )
        for r in rows
    ]
    return table([header, *body])


def silence_json(s: Silence) -> dict[str, Any]:
    return {
        "id": s.id,
        "account": s.account,
        "rule": s.rule,
        "until": _iso(s.until),
        "created_by": s.created_by,
        "created_at": _iso(s.created_at),
        "comment": s.comment,
        "subject": s.subject,
        "until_resolved": s.until_resolved,
        "matchers": [str(m) for m in s.matchers],
    }


def silences_output(silences: list[Silence], config: Config, as_json: bool) -> str:
    if as_json:
        return json.dumps([silence_json(s) for s in silences], indent=2)
    if not silences:
        return "no active silences"
    zone = config.zone
    header = ("ID", "ACCOUNT", "RULE", "MATCHERS", "UNTIL", "BY", "COMMENT")
    body = [
        (
            str(s.id),
            s.account or "*",
            s.rule + (f" {s.subject}" if s.subject else "") if s.rule else "*",
            shown(" ".join(map(str, s.matchers))) or "-",
            "resolved" if s.until_resolved else local_time(s.until, zone),
            s.created_by,
            shown(s.comment),
        )
        for s in silences
    ]
    return table([header, *body])


class Operator:
    """One CLI invocation's view of the store, as the CLI caller."""

    def __init__(self, config: Config, store: Store, clock: Clock | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock or SystemClock()
        self.caller = cli_caller()
        self.accounts = Access(config, {}).accounts_for(self.caller)
        self.full_access = self.accounts == frozenset(a.name for a in config.accounts)

    async def alerts(self, as_json: bool) -> str:
        return alerts_output(await current_alerts(self.store, self.accounts), self.config, as_json)

    async def list_silences(self, as_json: bool) -> str:
        now = self.clock.now()
        everyone = [a.name for a in self.config.accounts]
        found = await visible_silences(self.store, now, self.accounts, self.full_access, everyone)
        return silences_output(found, self.config, as_json)

    async def add(
        self,
        duration: str,
        account: str | None,
        rule: str | None,
        comment: str,
        match: Sequence[str] = (),
    ) -> str:
        span = parse_mute_span(duration)
        matchers = parse_silence_matchers(match)
        # a mute by labels needs no account: it is kept to the caller's accounts instead
        anyone = self.full_access or bool(matchers)
        target = silence_target(self.config, self.accounts, anyone, account, rule)
        matchers = restricted(matchers, self.accounts, self.full_access) if matchers else ()
        now = self.clock.now()
        silence = await add_silence(
            self.store, now, span, target, self.caller.label, comment, matchers
        )
        shown_matchers = tuple(map(str, matchers))
        parts = (account, rule and f"rule {rule}", *shown_matchers)
        what = " / ".join(x for x in parts if x) or "all alerts"
        zone = self.config.zone
        return (
            f"silence {silence.id}: muted {what} for {human_duration(span)}, "
            f"until {local_time(silence.until, zone)}"
        )

    async def expire(self, silence_id: int) -> str:
        if not await self.store.end_silence(silence_id, self.clock.now()):
            raise LookupError(f"no active silence {silence_id} (see balancebot silences list)")
        # a running daemon sends what the silence held back at its next pass (30 s)
        return f"silence {silence_id} expired"
