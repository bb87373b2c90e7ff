"""What a rule found, as data: the numbers and names a finding's words are made of.

A rule returns one of these with its finding; only the rendering layer (`phrases.py`)
turns it into a sentence, in the reader's language and time zone. So the rules never
touch the language catalogs, and a new language or a new platform changes no rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Grown:
    """A limit grown to cover `days` of spend at `per_day` (a threshold's `*_runway`)."""

    days: Decimal
    per_day: Decimal


@dataclass(frozen=True, slots=True)
class BalanceFacts:
    """A balance against the limit that applies (`threshold`)."""

    value: Decimal
    currency: str  # an ISO-4217 code
    limit: Decimal
    below: bool
    grown: Grown | None = None  # the limit, when spend grew it past the fixed one
    topped_up: Decimal | None = None  # money that arrived at this check, when it cleared


@dataclass(frozen=True, slots=True)
class AvailabilityFacts:
    """Whether the account can make API calls (`unavailable`)."""

    available: bool


@dataclass(frozen=True, slots=True)
class FailureFacts:
    """Consecutive failed checks (`check_failed`): `failures` in a row, the last one's
    message, or the watched currencies its answer lacked. No failure: checks succeed."""

    failures: int
    message: str | None = None
    missing: tuple[str, ...] = ()  # currency codes


@dataclass(frozen=True, slots=True)
class RunwayFacts:
    """How long the balance lasts at the spend rate seen over `basis` (`runway`)."""

    currency: str  # an ISO-4217 code
    per_day: Decimal
    basis: timedelta
    days: Decimal | None  # None: nothing is being spent, no end in sight
    runs_out_at: datetime | None  # None: beyond ten years, or never
    as_of: datetime
    short: bool  # under a limit: said with when it runs out
    topped_up: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SpikeFacts:
    """Spend over the last `period` against the median of the `days` before (`spend_spike`)."""

    spent: Decimal
    currency: str  # an ISO-4217 code
    period: timedelta
    usual: Decimal
    days: int


@dataclass(frozen=True, slots=True)
class TopUpFacts:
    """Money that arrived (`top_up`): `amount`, and the balance `total` it made."""

    amount: Decimal
    currency: str  # an ISO-4217 code
    total: Decimal


@dataclass(frozen=True, slots=True)
class TroubleFacts:
    """balancebot's own trouble (a self alert): what is wrong, as `Health` says it."""

    message: str


Facts = (
    BalanceFacts
    | AvailabilityFacts
    | FailureFacts
    | RunwayFacts
    | SpikeFacts
    | TopUpFacts
    | TroubleFacts
)
