"""The rules' models: `[[rules]]` tables, one struct per `type`, and their limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from msgspec import Meta, Struct, field

from ..models import Currency
from .durations import (
    RepeatInterval,
    Window,
)
from .values import Name

if TYPE_CHECKING:
    pass


from .strict import Strict as _Strict
from .strict import finite as _finite

_PERCENT_PLACES = 8


class ThresholdLimits(_Strict, frozen=True, kw_only=True):
    warning_below: Decimal | None = None
    critical_below: Decimal | None = None
    # a percentage of the balance right after the last top-up; the fixed limits stand
    # until a top-up has been seen (rules.py)
    warning_below_percent: Decimal | None = None
    critical_below_percent: Decimal | None = None
    min_top_up: Decimal = Decimal("0.01")  # a smaller rise (a refund) is not a new basis

    def __post_init__(self) -> None:
        _finite(self.warning_below, "warning_below")
        _finite(self.critical_below, "critical_below")
        if self.warning_below is None and self.critical_below is None:
            raise ValueError("set warning_below, critical_below or both")
        _ordered(self.critical_below, self.warning_below, "critical_below", "warning_below")
        for name in ("warning_below_percent", "critical_below_percent"):
            percent = getattr(self, name)
            _finite(percent, name)
            if percent is not None and not 0 < percent <= 100:
                raise ValueError(f"{name} must be above 0 and at most 100")
            if percent is not None and percent.as_tuple().exponent < -_PERCENT_PLACES:
                # '1e-999999' was accepted, and every alert quoted it with a million zeros
                raise ValueError(f"{name} has more than {_PERCENT_PLACES} decimal places")
        _amounts(self, min_top_up=">")
        _ordered(
            self.critical_below_percent,
            self.warning_below_percent,
            "critical_below_percent",
            "warning_below_percent",
        )

    @property
    def percents(self) -> bool:
        return self.warning_below_percent is not None or self.critical_below_percent is not None


class _RuleBase(_Strict, frozen=True, kw_only=True, tag_field="type"):
    name: Name
    accounts: list[str] | None = None  # None: every account
    for_checks: Annotated[int, Meta(ge=1, le=1000)] = field(default=1, name="for")
    repeat_interval: RepeatInterval = RepeatInterval(hours=4)
    send_resolved: bool = True

    @property
    def type(self) -> str:
        """The `type` key the rule was written with (msgspec keeps it as the class's tag)."""
        return str(self.__struct_config__.tag)

    def applies_to(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts


class ThresholdRuleConfig(_RuleBase, frozen=True, kw_only=True, tag="threshold"):
    thresholds: Annotated[dict[Currency, ThresholdLimits], Meta(min_length=1)]
    hysteresis: Decimal = Decimal("0")
    # a limit that grows with spend: below max(fixed limit, this much spend at the current rate)
    warning_runway: Window | None = None
    critical_runway: Window | None = None
    window: Window = Window(days=1)  # the rate for *_runway is measured over this
    min_history: Window = Window(hours=6)
    top_up_window: Window = Window(days=30)  # how far back *_below_percent look for a top-up

    def __post_init__(self) -> None:
        _finite(self.hysteresis, "hysteresis")
        if self.hysteresis < 0:
            raise ValueError("hysteresis must not be negative")
        _ordered(self.critical_runway, self.warning_runway, "critical_runway", "warning_runway")
        _ordered(self.min_history, self.window, "min_history", "window")


class UnavailableRuleConfig(_RuleBase, frozen=True, kw_only=True, tag="unavailable"):
    pass


class CheckFailedRuleConfig(_RuleBase, frozen=True, kw_only=True, tag="check_failed"):
    after_failures: Annotated[int, Meta(ge=1, le=1000)] = 3


# --- trend rules: they read the account's recent history through spend.py ---


def _ordered(low: Any, high: Any, low_name: str, high_name: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"{low_name} must not be above {high_name}")


def _amounts(rule: Struct, **signs: str) -> None:
    """Each named amount is finite and positive (">") or not negative (">=")."""
    for name, sign in signs.items():
        amount = getattr(rule, name)
        _finite(amount, name)
        if amount is not None and (amount < 0 or (sign == ">" and amount == 0)):
            raise ValueError(f"{name} must be {'positive' if sign == '>' else 'at least 0'}")


class RunwayRuleConfig(_RuleBase, frozen=True, kw_only=True, tag="runway"):
    """Days left at the burn rate over `window` below `warning_days` / `critical_days`."""

    warning_days: Decimal | None = None
    critical_days: Decimal | None = None
    window: Window = Window(days=1)
    min_history: Window = Window(hours=6)  # no verdict until the window spans this much
    hysteresis: Decimal = Decimal("0")  # in days
    currencies: list[Currency] | None = None  # None: every currency reported

    def __post_init__(self) -> None:
        _amounts(self, warning_days=">", critical_days=">", hysteresis=">=")
        if self.warning_days is None and self.critical_days is None:
            raise ValueError("set warning_days, critical_days or both")
        _ordered(self.critical_days, self.warning_days, "critical_days", "warning_days")
        _ordered(self.min_history, self.window, "min_history", "window")


class SpendSpikeRuleConfig(_RuleBase, frozen=True, kw_only=True, tag="spend_spike"):
    """Spend over the last `period` above `factor` x the median `period` of the past `days`."""

    period: Window = Window(hours=1)
    factor: Decimal = Decimal("3")
    days: Annotated[int, Meta(ge=1, le=90)] = 7
    min_history: Window = Window(days=1)  # of past periods before any verdict
    min_spend: Decimal = Decimal("1")  # a spike spends at least this
    currencies: list[Currency] | None = None

    def __post_init__(self) -> None:
        _amounts(self, factor=">", min_spend=">=")
        if self.period > timedelta(days=1):
            raise ValueError("period must be at most 1d")
        _ordered(self.min_history, timedelta(days=self.days), "min_history", "days")


class TopUpRuleConfig(_RuleBase, frozen=True, kw_only=True, tag="top_up"):
    """An `info` notice when money arrives; an event, so there is nothing to resolve."""

    min_amount: Decimal = Decimal("0.01")  # smaller rises are noise
    send_resolved: bool = False

    def __post_init__(self) -> None:
        _amounts(self, min_amount=">")
        if self.send_resolved:
            raise ValueError("send_resolved: a top-up is an event, there is nothing to resolve")
        if self.for_checks != 1:
            raise ValueError("for: a top-up is seen at one check; it must be 1")


TrendRuleConfig = RunwayRuleConfig | SpendSpikeRuleConfig | TopUpRuleConfig

# --- end of trend rules ---

RuleConfig = (
    ThresholdRuleConfig
    | UnavailableRuleConfig
    | CheckFailedRuleConfig
    | RunwayRuleConfig
    | SpendSpikeRuleConfig
    | TopUpRuleConfig
)


DEFAULT_RULES: tuple[RuleConfig, ...] = (
    UnavailableRuleConfig(name=Name("unavailable")),
    CheckFailedRuleConfig(name=Name("check-failed")),
)
"""Without a `[[rules]]` section: alert when the account is unusable or checks fail."""
