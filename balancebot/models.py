"""The plain data that flows between the parts: snapshot → finding → transition → notification."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Protocol

from msgspec import Meta

from .facts import Facts

CURRENCY_PATTERN = r"^[A-Z]{3}$"
# What an amount may be, from a provider's answer or a configuration: at most 15 integer
# digits (no real balance reaches 10^15) and 8 decimal places.
AMOUNT_INTEGER_DIGITS = 15
AMOUNT_FRACTION_DIGITS = 8

Currency = Annotated[str, Meta(pattern=CURRENCY_PATTERN)]
"""Any ISO-4217 code ("CNY", "USD", "EUR"): what a provider reports is read, not refused."""


def currency(code: object) -> Currency:
    """`code` checked as a currency code; ValueError if it is not three capital letters."""
    if not isinstance(code, str) or not re.fullmatch(CURRENCY_PATTERN, code, re.ASCII):
        raise ValueError(f"not a currency code: {str(code)[:10]!r}")
    return code


class Severity(enum.IntEnum):
    """Ordered, so escalation is a comparison."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class FailureKind(enum.StrEnum):
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    REJECTED = "rejected"
    INTERNAL = "internal"  # an unexpected exception in balancebot itself: a bug, MemoryError


@dataclass(frozen=True, slots=True)
class CurrencyBalance:
    """One currency of an account. Rules watch `total`.

    `granted` (bonus credit, spent first) + `topped_up` (paid) = `total` at DeepSeek and
    Moonshot; a negative `topped_up` is debt. `limit` is set when `total` is what is left
    of a spending cap (an OpenRouter key's limit, a relay token's quota), `used` when the
    provider says how much of it (or of the credits) is spent."""

    total: Decimal
    granted: Decimal
    topped_up: Decimal
    limit: Decimal | None = None
    used: Decimal | None = None

    @property
    def debt(self) -> Decimal:
        """What is owed: the paid balance below zero (Moonshot lets it go negative)."""
        return max(Decimal(0), -self.topped_up)


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    account: str
    provider: str
    taken_at: datetime
    is_available: bool
    balances: Mapping[Currency, CurrencyBalance] = field(default_factory=dict)
    uncapped: bool = False
    """The key has no spending cap (an OpenRouter key with a null limit): there is no
    balance to show for it, which is not a balance of zero."""


@dataclass(frozen=True, slots=True)
class CheckFailure:
    account: str
    provider: str
    taken_at: datetime
    kind: FailureKind
    message: str


CheckResult = BalanceSnapshot | CheckFailure


@dataclass(frozen=True, slots=True, order=True)
class AlertKey:
    """One alert: account, rule and subject (a currency, or "" for account-wide rules)."""

    account: str
    rule: str
    subject: str = ""


RouteTarget = tuple[str, str]
"""Where a message goes: a notifier's name and a target it knows (a chat, a channel)."""


@dataclass(frozen=True, slots=True)
class LimitBasis:
    """Where a threshold's limit came from, as data (render.py says it in words): `percent`
    of `top_up`, the balance right after the last top-up; with `top_up` None no top-up
    has been seen yet, so the fixed limit stands."""

    percent: Decimal
    top_up: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict for one key at one check.

    `severity` is None when the condition does not hold. `sticky_severity` is the
    severity with the rule's hysteresis margin applied: an alert firing at some
    severity stays there until the value clears the margin. `facts` is what the rule saw,
    as data; `phrases.describe` says it in words.
    """

    key: AlertKey
    severity: Severity | None
    sticky_severity: Severity | None
    facts: Facts
    observed: Decimal | None = None
    limit: Decimal | None = None
    basis: LimitBasis | None = None  # a threshold's limit, when a percentage was configured


class TransitionKind(enum.StrEnum):
    FIRING = "firing"
    REPEAT = "repeat"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    DIGEST = "digest"  # not an alert transition: the scheduled summary travels the same way


class AlertStatus(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class AlertState:
    key: AlertKey
    status: AlertStatus = AlertStatus.INACTIVE
    severity: Severity | None = None
    pending_checks: int = 0
    started_at: datetime | None = None
    last_notified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    kind: TransitionKind
    key: AlertKey
    severity: Severity
    at: datetime
    started_at: datetime
    finding: Finding

    @property
    def duration(self) -> timedelta:
        return self.at - self.started_at


@dataclass(frozen=True, slots=True)
class Notification:
    """What a notifier delivers: rendered once, identical on every platform."""

    kind: TransitionKind
    severity: Severity
    account: str
    rule: str
    subject: str
    headline: str
    details: tuple[str, ...]
    at: datetime
    started_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    """The alert's labels (`labels.py`): what notifiers that speak in labels (Alertmanager,
    PagerDuty) send, and what grouped messages and their buttons act on. Empty for
    summaries and digests."""
    group: str = ""
    """A message for several alerts (a route's `group_by`): its group's key, which its
    buttons carry to act on the whole group."""
    alerts: tuple[Notification, ...] = field(default=(), hash=False)
    """For a grouped message (`notify/grouped.py`), the notice of each alert it lists:
    what notifiers that send one event per alert (Alertmanager, PagerDuty) send."""

    @property
    def icon(self) -> str:
        """Read before the words on a lock screen: red, orange, green."""
        if self.kind is TransitionKind.RESOLVED:
            return "✅"
        if self.kind is TransitionKind.DIGEST:
            return "📊"
        return {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠"}.get(self.severity, "🔵")


class LabelMatcher(Protocol):
    """One condition on one label (`labels.Matcher`, which builds on this module)."""

    @property
    def name(self) -> str: ...

    def matches(self, labels: Mapping[str, str]) -> bool: ...


@dataclass(frozen=True, slots=True)
class Silence:
    """A mute: matches alerts by their labels (`matchers`, all must hold) and by the
    shorthands `account`, `rule` and `subject` (the same as `account="x"`,
    `alertname="y"` and `currency="z"` matchers; None matches anything).

    A mute set from an alert's button is bound to that alert's key (`subject` set too);
    `until_resolved` mutes keep quiet about repeats and escalations below critical, still
    let the resolved notice through, and end when the alert resolves (alertmanager#3825).
    """

    id: int
    account: str | None
    rule: str | None
    until: datetime
    created_by: str
    created_at: datetime
    comment: str = ""
    subject: str | None = None
    until_resolved: bool = False
    matchers: tuple[LabelMatcher, ...] = ()

    def matches(
        self, key: AlertKey, now: datetime, labels: Mapping[str, str] | None = None
    ) -> bool:
        """`labels` are the alert's (`labels.alert_labels`); without them, matchers see only
        the labels its key gives (`alertname`, `account`, `currency`)."""
        if not (
            now < self.until
            and self.account in (None, key.account)
            and self.rule in (None, key.rule)
            and self.subject in (None, key.subject)
        ):
            return False
        if not self.matchers:
            return True
        if not labels:  # an alert always has some: none were handed in
            labels = {"alertname": key.rule, "account": key.account}
            labels |= {"currency": key.subject} if key.subject else {}
        return all(m.matches(labels) for m in self.matchers)

    def mutes(
        self,
        kind: TransitionKind,
        key: AlertKey,
        severity: Severity,
        now: datetime,
        labels: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether this transition stays unsent because of this silence."""
        if not self.matches(key, now, labels):
            return False
        if not self.until_resolved:
            return True
        if kind is TransitionKind.RESOLVED:
            return False
        return not (kind is TransitionKind.ESCALATED and severity is Severity.CRITICAL)

    def describe(self) -> str:
        """What it matches, as lists show it: its shorthands, then its matchers ("" for
        everything)."""
        parts = (self.account, self.rule, self.subject, *map(str, self.matchers))
        return " / ".join(x for x in parts if x)

    def accounts(self, names: Iterable[str]) -> set[str]:
        """Which of these accounts' alerts it can mute, judged by its `account` shorthand and
        `account` matchers alone (what a caller must be allowed to see to see it)."""
        by_account = [m for m in self.matchers if m.name == "account"]
        return {
            name
            for name in names
            if self.account in (None, name)
            and all(m.matches({"account": name}) for m in by_account)
        }


class FrontEndState(enum.StrEnum):
    """Where a chat front-end's connection stands, for /status, /readyz and metrics."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True)
class FrontEndStatus:
    state: FrontEndState
    since: datetime
    detail: str = ""

    def describe(self) -> str:
        return f"{self.state.value} ({self.detail})" if self.detail else self.state.value
