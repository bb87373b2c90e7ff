"""The status document: every account with its balances, runway, today's spend and last
check, the open alerts and the active silences, as plain data.

Built by a pure function of what the checks remember (`ReadModel`), the silences and the
clock, so the status page, its JSON twin and the MCP tools say the same thing; nothing in
it is a secret (failure messages are scrubbed before the checks keep them). `as_json` is
the documented wire form (docs/status-page.md): amounts as strings, times in RFC 3339 UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from ..config import Config
from ..i18n import language
from ..models import (
    AlertKey,
    AlertState,
    AlertStatus,
    BalanceSnapshot,
    CheckFailure,
    CheckResult,
    Currency,
    Severity,
    Silence,
)
from ..spend import NotEnoughHistory, Runway, plain, runway, spent
from ..trends import outlook_since, runway_settings

SCHEMA_VERSION = 1
MESSAGE_CHARS = 300  # a failure message is a line on a page, not a provider's whole body


class ReadModel(Protocol):
    """What the checks remember about each account (the check pipeline's memory)."""

    def latest(self, account: str) -> CheckResult | None: ...

    def recent(self, account: str) -> list[CheckResult]: ...

    def states(self) -> Mapping[AlertKey, AlertState]: ...

    def last_success(self, account: str) -> datetime | None: ...


class HistorySource(Protocol):
    """Where older snapshots are read from when the memory does not reach back far enough."""

    async def history(self, account: str, since: datetime) -> list[BalanceSnapshot]: ...


@dataclass(frozen=True, slots=True)
class CurrencyStatus:
    currency: Currency
    total: Decimal
    granted: Decimal
    topped_up: Decimal
    limit: Decimal | None
    used: Decimal | None
    runway: Runway | NotEnoughHistory
    spent_today: Decimal


@dataclass(frozen=True, slots=True)
class LastCheck:
    at: datetime
    outcome: Literal["ok", "failed"]
    available: bool | None  # a successful check: whether the key may make API calls
    failure_kind: str | None = None
    message: str | None = None  # scrubbed of secrets by the checks


@dataclass(frozen=True, slots=True)
class AccountStatus:
    name: str
    provider: str
    last_check: LastCheck | None  # None: not checked yet
    last_success: datetime | None
    balances: tuple[CurrencyStatus, ...]  # of the last successful check
    balances_at: datetime | None
    uncapped: bool


@dataclass(frozen=True, slots=True)
class AlertEntry:
    key: AlertKey
    severity: Severity | None
    status: AlertStatus
    since: datetime | None
    last_sent: datetime | None


@dataclass(frozen=True, slots=True)
class StatusDocument:
    generated_at: datetime
    language: str
    timezone: str
    accounts: tuple[AccountStatus, ...]
    alerts: tuple[AlertEntry, ...]
    silences: tuple[Silence, ...]

    @property
    def firing(self) -> list[AlertEntry]:
        """The alerts people should act on: firing, not a top-up notice."""
        return [
            a
            for a in self.alerts
            if a.status is AlertStatus.FIRING and a.severity is not Severity.INFO
        ]


def build_status(
    config: Config,
    model: ReadModel,
    silences: Sequence[Silence],
    now: datetime,
    histories: Mapping[str, Sequence[BalanceSnapshot]] | None = None,
) -> StatusDocument:
    """The document for every configured account, in config order. `histories`: each
    account's snapshots since `history_since` (what `load_status` reads); without one an
    account's runway and spend come from what the model keeps."""
    names = [a.name for a in config.accounts]
    accounts = []
    for account in config.accounts:
        history = (histories or {}).get(account.name)
        if history is None:
            history = [r for r in model.recent(account.name) if isinstance(r, BalanceSnapshot)]
        accounts.append(_account(config, account.name, account.provider, model, list(history), now))
    states = [s for s in model.states().values() if s.key.account in names]
    open_alerts = sorted(
        (s for s in states if s.status is not AlertStatus.INACTIVE),
        key=lambda s: (-(s.severity if s.severity is not None else -1), s.key),
    )
    alerts = tuple(
        AlertEntry(s.key, s.severity, s.status, s.started_at, s.last_notified_at)
        for s in open_alerts
    )
    live = sorted((s for s in silences if s.until > now), key=lambda s: (s.until, s.id))
    return StatusDocument(
        generated_at=now,
        language=language(),
        timezone=config.timezone,
        accounts=tuple(accounts),
        alerts=alerts,
        silences=tuple(live),
    )


def history_since(config: Config, account: str, now: datetime) -> datetime:
    """How far back an account's runway and today's spend read."""
    return outlook_since(config.rules_for(account), now, config.zone)


async def load_status(
    config: Config,
    model: ReadModel,
    source: HistorySource,
    silences: Sequence[Silence],
    now: datetime,
) -> StatusDocument:
    """`build_status` with each account's history read from `source` where the model's
    memory does not reach back to `history_since` (as `/balance` does)."""
    histories: dict[str, list[BalanceSnapshot]] = {}
    for account in config.accounts:
        since = history_since(config, account.name, now)
        kept = [r for r in model.recent(account.name) if isinstance(r, BalanceSnapshot)]
        if not kept or kept[0].taken_at > since:
            kept = await source.history(account.name, since)
        latest = model.latest(account.name)
        if isinstance(latest, BalanceSnapshot) and (
            not kept or kept[-1].taken_at < latest.taken_at
        ):
            kept.append(latest)
        histories[account.name] = kept
    return build_status(config, model, silences, now, histories)


def _account(
    config: Config,
    name: str,
    provider: str,
    model: ReadModel,
    history: list[BalanceSnapshot],
    now: datetime,
) -> AccountStatus:
    latest = model.latest(name)
    last_check: LastCheck | None = None
    if isinstance(latest, CheckFailure):
        last_check = LastCheck(
            latest.taken_at, "failed", None, latest.kind.value, latest.message[:MESSAGE_CHARS]
        )
    elif latest is not None:
        last_check = LastCheck(latest.taken_at, "ok", latest.is_available)
    snapshot = latest if isinstance(latest, BalanceSnapshot) else None
    if snapshot is None:  # failing now: show the last balances known
        snapshot = next(
            (r for r in reversed(model.recent(name)) if isinstance(r, BalanceSnapshot)),
            history[-1] if history else None,
        )
    balances: list[CurrencyStatus] = []
    if snapshot is not None:
        window, least = runway_settings(config.rules_for(name))
        midnight = now.astimezone(config.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        for currency, balance in snapshot.balances.items():
            balances.append(
                CurrencyStatus(
                    currency,
                    balance.total,
                    balance.granted,
                    balance.topped_up,
                    balance.limit,
                    balance.used,
                    runway(history, currency, now, window, least),
                    spent(history, currency, midnight),
                )
            )
    return AccountStatus(
        name=name,
        provider=provider,
        last_check=last_check,
        last_success=model.last_success(name),
        balances=tuple(balances),
        balances_at=snapshot.taken_at if snapshot is not None else None,
        uncapped=snapshot.uncapped if snapshot is not None else False,
    )


def moment(value: datetime | None) -> str | None:
    """RFC 3339 in UTC, to the second: `2026-12-02T13:45:00Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def runway_json(found: Runway | NotEnoughHistory) -> dict[str, Any]:
    if isinstance(found, NotEnoughHistory):
        return {
            "state": "not_enough_history",
            "covered_seconds": _seconds(found.covered),
            "needed_seconds": _seconds(found.needed),
        }
    days = found.days
    return {
        "state": "no_spend" if days is None else "estimate",
        "days": None if days is None else f"{days:.2f}",
        "per_day": plain(found.per_day.quantize(Decimal("1e-8"))),
        "runs_out_at": moment(found.runs_out_at),
        "window_seconds": _seconds(found.window),
        "covered_seconds": _seconds(found.covered),
    }


def _check_json(check: LastCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "at": moment(check.at),
        "outcome": check.outcome,
        "available": check.available,
        "failure_kind": check.failure_kind,
        "message": check.message,
    }


def account_json(account: AccountStatus) -> dict[str, Any]:
    return {
        "name": account.name,
        "provider": account.provider,
        "last_check": _check_json(account.last_check),
        "last_success": moment(account.last_success),
        "balances_at": moment(account.balances_at),
        "uncapped": account.uncapped,
        "balances": [
            {
                "currency": c.currency,
                "total": plain(c.total),
                "granted": plain(c.granted),
                "topped_up": plain(c.topped_up),
                "limit": _amount(c.limit),
                "used": _amount(c.used),
                "runway": runway_json(c.runway),
                "spent_today": plain(c.spent_today),
            }
            for c in account.balances
        ],
    }


def alert_json(alert: AlertEntry) -> dict[str, Any]:
    return {
        "account": alert.key.account,
        "rule": alert.key.rule,
        "subject": alert.key.subject,
        "severity": alert.severity.label if alert.severity is not None else None,
        "status": alert.status.value,
        "since": moment(alert.since),
        "last_sent": moment(alert.last_sent),
    }


def silence_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "account": silence.account,
        "rule": silence.rule,
        "subject": silence.subject,
        "until": moment(silence.until),
        "until_resolved": silence.until_resolved,
        "created_by": silence.created_by,
        "created_at": moment(silence.created_at),
        "comment": silence.comment,
        "matchers": [str(m) for m in silence.matchers],
    }


def as_json(document: StatusDocument) -> dict[str, Any]:
    """The wire form of docs/status-page.md (`schema` changes when a field changes meaning)."""
    return {
        "schema": SCHEMA_VERSION,
        "generated_at": moment(document.generated_at),
        "language": document.language,
        "timezone": document.timezone,
        "accounts": [account_json(a) for a in document.accounts],
        "alerts": [alert_json(a) for a in document.alerts],
        "silences": [silence_json(s) for s in document.silences],
    }
