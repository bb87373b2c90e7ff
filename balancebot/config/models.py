"""The configuration's models: msgspec Structs, strict (unknown keys are errors)."""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

from ..labels import (
    Labels,
    Matcher,
    alert_labels,
    check_label_name,
    matches_all,
    parse_matchers,
)
from ..models import AlertKey, Currency, Severity
from ..quiet import QuietHours
from .durations import (
    CheckInterval,
    Delay,
    MaxAge,
    RepeatInterval,
    RequestTimeout,
    Resolution,
    Retention,
    Window,
)
from .mcp import McpConfig
from .status_access import check_password_hash, check_token, exposure_problem
from .store_url import check_sslmode, normalise_store_url
from .values import HttpUrl, ListenAddress, Name, Secret, TimeZoneName

if TYPE_CHECKING:
    import zoneinfo


_PERCENT_PLACES = 8
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _finite(amount: Decimal | None, where: str) -> None:
    if amount is not None and not amount.is_finite():
        raise ValueError(f"{where} {amount} is not a finite amount")


class _Strict(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Unknown keys are errors: a typo must not silently become a default.

    Subclasses repeat `frozen=True, kw_only=True` because mypy's dataclass_transform
    support does not inherit class parameters; msgspec would."""


class AccountConfig(_Strict, frozen=True, kw_only=True):
    name: Name
    api_key: Secret
    provider: str = "deepseek"
    base_url: HttpUrl | None = None  # None: the provider's default
    check_interval: CheckInterval = CheckInterval(minutes=5)
    jitter: Delay | None = None
    timeout: RequestTimeout = RequestTimeout(seconds=20)
    connect_timeout: RequestTimeout = RequestTimeout(seconds=5)
    options: dict[str, Any] = field(default_factory=dict)
    """The provider's own settings, validated by its `Options` struct (`plugins.py`)."""
    labels: dict[str, str] = field(default_factory=dict)
    """The account's own alert labels (`team = "search"`), matched by routes, silences,
    inhibit rules and grouping beside the ones balancebot sets."""

    def __post_init__(self) -> None:
        if not self.api_key.get_secret_value().strip():
            raise ValueError("api_key is empty")
        for label in self.labels:
            check_label_name(label)
        if self.jitter is not None and self.jitter > self.check_interval:
            raise ValueError("jitter must not be above check_interval")


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


# --- trend rules (issue 15): they read the account's recent history through spend.py ---


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


class NotifierConfig(_Strict, frozen=True, kw_only=True):
    """Name and type here; the plugin validates `options` against its own model (`plugins`).

    In the file the options sit beside name and type; `build_config` gathers them."""

    name: Name
    type: str
    options: dict[str, Any] = {}

    def __repr__(self) -> str:
        # options may hold tokens; the plugin's own model knows which, this one doesn't
        return f"NotifierConfig(name={self.name!r}, type={self.type!r})"


GROUP_BY_ALL = "..."
"""`group_by = ["..."]`: every label, so each alert is a group of its own (Alertmanager's
way of saying "no grouping")."""


@functools.lru_cache(maxsize=1024)
def matchers_of(texts: tuple[str, ...]) -> tuple[Matcher, ...]:
    """Parsed once per distinct list: routes are matched for every alert."""
    return parse_matchers(texts)


def _check_matchers(key: str, texts: list[str]) -> None:
    try:
        matchers_of(tuple(texts))
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _check_names(key: str, names: list[str], allow_all: bool = False) -> None:
    for name in names:
        if allow_all and name == GROUP_BY_ALL:
            continue
        if not _LABEL_NAME.fullmatch(name):
            raise ValueError(f"{key}: {name!r} is not a label name (letters, digits and _)")


class RouteConfig(_Strict, frozen=True, kw_only=True):
    """Which alerts go to which notifiers (`matchers` on labels; `accounts`, `rules` and
    `min_severity` are shorthands for the common ones), and how they are grouped."""

    notifiers: Annotated[list[str], Meta(min_length=1)]
    accounts: list[str] | None = None
    rules: list[str] | None = None
    min_severity: Literal["info", "warning", "critical"] = "info"
    matchers: list[str] = []
    group_by: list[str] | None = None  # None: one message per alert
    group_wait: Delay = Delay(seconds=10)
    group_interval: CheckInterval = CheckInterval(minutes=5)

    def __post_init__(self) -> None:
        _check_matchers("matchers", self.matchers)
        if self.group_by is not None:
            _check_names("group_by", self.group_by, allow_all=True)
            if GROUP_BY_ALL in self.group_by and len(self.group_by) > 1:
                raise ValueError('group_by: "..." (every label) stands alone')

    def matches(self, account: str, rule: str, severity: Severity) -> bool:
        return (
            (self.accounts is None or account in self.accounts)
            and (self.rules is None or rule in self.rules)
            and severity >= Severity[self.min_severity.upper()]
        )

    def matches_labels(self, labels: Labels) -> bool:
        """The shorthands on `account`, `alertname` and `severity`, and every matcher."""
        severity = Severity.__members__.get(labels.get("severity", "").upper(), Severity.INFO)
        return self.matches(
            labels.get("account", ""), labels.get("alertname", ""), severity
        ) and matches_all(matchers_of(tuple(self.matchers)), labels)

    @property
    def groups(self) -> bool:
        """Whether alerts share messages on this route."""
        return self.group_by is not None and GROUP_BY_ALL not in self.group_by


class InhibitConfig(_Strict, frozen=True, kw_only=True):
    """While an alert matching `source_matchers` fires, alerts matching `target_matchers`
    with the same values of the `equal` labels are not sent (Alertmanager's form)."""

    source_matchers: Annotated[list[str], Meta(min_length=1)]
    target_matchers: Annotated[list[str], Meta(min_length=1)]
    equal: list[str] = []

    def __post_init__(self) -> None:
        _check_matchers("source_matchers", self.source_matchers)
        _check_matchers("target_matchers", self.target_matchers)
        _check_names("equal", self.equal)


class AllowRule(_Strict, frozen=True, kw_only=True):
    """Who may ask about which accounts: anyone in `chats`; `users` in private chats
    (or in `chats` when both are given: user AND chat); `any_chat` restores "that user
    in any chat" for a users-only rule."""

    platform: Name  # "telegram", "slack" or a plugin front-end's `[chat.<name>]`
    chats: list[str | int] = []
    users: list[str | int] = []
    any_chat: bool = False
    accounts: list[str] | None = None  # None: every account

    def __post_init__(self) -> None:
        if not self.chats and not self.users:
            raise ValueError("list chats, users or both")
        if self.any_chat and (self.chats or not self.users):
            raise ValueError(
                "any_chat applies to a rule with users and no chats (with both, a user "
                "is allowed only in the listed chats)"
            )
        # Telegram ids are numbers in TOML; callers are compared as strings
        msgspec.structs.force_setattr(self, "chats", [str(c) for c in self.chats])
        msgspec.structs.force_setattr(self, "users", [str(u) for u in self.users])


class TelegramChatConfig(_Strict, frozen=True, kw_only=True):
    notifier: str  # the telegram notifier whose bot answers


class SlackChatConfig(_Strict, frozen=True, kw_only=True):
    notifier: str  # the slack notifier (bot token) that answers
    mode: Literal["socket", "http"] = "socket"
    app_token: Secret | None = None  # xapp-..., for socket mode
    signing_secret: Secret | None = None  # for http mode

    def __post_init__(self) -> None:
        if self.mode == "socket" and self.app_token is None:
            raise ValueError("socket mode needs app_token (an xapp- app-level token)")
        if self.mode == "http" and self.signing_secret is None:
            raise ValueError("http mode needs signing_secret")


CHAT_GATHERED = frozenset({"frontends"})
"""`ChatConfig`'s keys a file never names: `[chat.<name>]` tables are gathered into them."""


class ChatConfig(_Strict, frozen=True, kw_only=True):
    balance_max_age: MaxAge = MaxAge(minutes=5)
    telegram: TelegramChatConfig | None = None
    slack: SlackChatConfig | None = None
    allow: list[AllowRule] = []
    buttons: bool = True  # mute buttons on alerts where a front-end hears the clicks
    frontends: dict[str, dict[str, Any]] = {}
    """Plugin front-ends' `[chat.<name>]` sections, checked by their own `Options` struct
    (`configure.py`); `build_config` gathers them from beside the keys above."""


class DigestConfig(_Strict, frozen=True, kw_only=True):
    schedule: str | None = None  # cron, in `timezone`: "0 9 * * *"

    def __post_init__(self) -> None:
        if self.schedule is not None:
            from apscheduler.triggers.cron import CronTrigger  # only when one is configured

            try:
                trigger = CronTrigger.from_crontab(self.schedule, timezone=UTC)
            except ValueError as exc:
                raise ValueError(
                    f"schedule {self.schedule!r} is not a cron expression: {exc}"
                ) from None
            # "0 0 31 2 *" (February 31st) parsed, and the digest then never came, silently;
            # any schedule that fires at all does within 4 years (February 29th)
            start = datetime(2024, 3, 1, tzinfo=UTC)  # fixed: the answer must not vary
            fires = trigger.get_next_fire_time(None, start)
            if fires is None or fires > start.replace(year=start.year + 4):
                raise ValueError(
                    f"schedule {self.schedule!r} never fires: no date in four years matches "
                    "it (a day the month does not have, like February 31st?)"
                )


class HttpConfig(_Strict, frozen=True, kw_only=True):
    enabled: bool = False
    listen: ListenAddress = ListenAddress("127.0.0.1:9464")
    status_page: bool = False  # the read-only status page at / and /api/v1/status
    status_token: Secret | None = None  # `Authorization: Bearer` or `?token=`
    status_user: str | None = None  # basic auth, with status_password_hash
    status_password_hash: str | None = None
    status_public: bool = False  # serve the page to a network without a login, on purpose

    def __post_init__(self) -> None:
        if self.status_token is not None:
            check_token(self.status_token.get_secret_value())
        if (self.status_user is None) != (self.status_password_hash is None):
            raise ValueError("status_user and status_password_hash go together: set both")
        if self.status_password_hash is not None:
            check_password_hash(self.status_password_hash)
        if self.status_user is not None and (not self.status_user or ":" in self.status_user):
            raise ValueError("status_user: a user name is not empty and holds no ':'")
        guarded = self.status_token is not None or self.status_user is not None
        problem = exposure_problem(
            self.listen, self.enabled, self.status_page, guarded, self.status_public
        )
        if problem is not None:
            raise ValueError(problem)


class HeartbeatConfig(_Strict, frozen=True, kw_only=True):
    """A push monitor (healthchecks.io, Uptime Kuma) told after each good check round."""

    url: Secret  # push URLs carry their own token
    method: Literal["GET", "POST"] = "GET"
    timeout: RequestTimeout = RequestTimeout(seconds=10)

    def __post_init__(self) -> None:
        if not self.url.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("url: expected an http:// or https:// URL")


class StoreConfig(_Strict, frozen=True, kw_only=True):
    url: str | None = None  # sqlite:///path or postgresql://... (postgres:// too)
    path: Path = Path("balancebot.db")
    keep_full_resolution: Retention = Retention(days=30)
    downsample_to: Resolution = Resolution(hours=1)

    def __post_init__(self) -> None:
        if self.url:
            msgspec.structs.force_setattr(self, "url", normalise_store_url(self.url))
            check_sslmode(self.url)

    @property
    def database_url(self) -> str:
        return self.url if self.url else f"sqlite:///{self.path}"

    def missing_directory(self) -> str | None:
        """The problem with a SQLite file whose directory does not exist (`run` never
        creates directories) or that is a directory, found by `validate` without opening
        anything."""
        key, path = "store.path", self.path
        if self.url:
            scheme, _, rest = self.url.partition(":///")
            if scheme != "sqlite" or not rest or rest == ":memory:":
                return None
            key, path = "store.url", Path(rest.partition("?")[0])
        if path.is_dir():
            return f"{key}: {path} is a directory; name a file in it ({path / 'balancebot.db'})"
        if path.parent.is_dir():
            return None
        return f"{key}: the directory {path.parent} does not exist (create it, or fix {key})"


def _default_notifiers() -> list[NotifierConfig]:
    return [NotifierConfig(name=Name("console"), type="console")]


class Config(_Strict, frozen=True, kw_only=True):
    accounts: Annotated[list[AccountConfig], Meta(min_length=1)]
    timezone: TimeZoneName = TimeZoneName("UTC")
    max_concurrent_checks: Annotated[int, Meta(ge=1, le=1000)] = 10
    store: StoreConfig = StoreConfig()
    rules: list[RuleConfig] = field(default_factory=lambda: list(DEFAULT_RULES))
    notifiers: list[NotifierConfig] = field(default_factory=_default_notifiers)
    routes: list[RouteConfig] = []
    chat: ChatConfig = ChatConfig()
    http: HttpConfig = HttpConfig()
    mcp: McpConfig = McpConfig()
    digest: DigestConfig = DigestConfig()
    heartbeat: HeartbeatConfig | None = None
    language: Literal["en", "zh"] = "en"
    quiet_hours: list[QuietHours] = []
    inhibit: list[InhibitConfig] = []

    def rules_for(self, account: str) -> list[RuleConfig]:
        return [r for r in self.rules if r.applies_to(account)]

    def fingerprint(self) -> str:
        """Eight hex digits naming what replicas must agree on (the accounts' names, the
        rules, the routes; no secret is part of it): `sweep.py` compares them."""
        shared = [sorted(a.name for a in self.accounts), self.rules, self.routes]
        if self.inhibit:
            shared.append(self.inhibit)
        return hashlib.sha256(msgspec.json.encode(shared, enc_hook=str)).hexdigest()[:8]

    def thresholds_for(self, account: str) -> dict[Currency, ThresholdLimits]:
        """The threshold limits that apply to an account (for charts)."""
        limits: dict[Currency, ThresholdLimits] = {}
        for rule in self.rules_for(account):
            if isinstance(rule, ThresholdRuleConfig):
                limits.update(rule.thresholds)
        return limits

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The configured time zone, for times shown to people (validated at load)."""
        import zoneinfo  # here: `check` seldom needs it (1.8 ms with sysconfig)

        return zoneinfo.ZoneInfo(self.timezone)

    def route(self, account: str, rule: str, severity: Severity) -> list[str]:
        """Notifier names an alert goes to; with no routes, to every notifier."""
        matched = any(route.matchers for route in self.routes)  # else the shorthands only
        own = next((a for a in self.accounts if a.name == account), None) if matched else None
        key = AlertKey(account, rule)
        labels = alert_labels(key, severity, own.provider if own else "", own.labels if own else {})
        return [name for name, _ in self.routes_for(labels)]

    def routes_for(self, labels: Labels) -> list[tuple[str, RouteConfig | None]]:
        """The notifiers an alert with these labels goes to, each with the first matching
        route (whose grouping applies there); with no routes, every notifier (None)."""
        if not self.routes:
            return [(n.name, None) for n in self.notifiers]
        found: dict[str, RouteConfig] = {}
        for route in self.routes:
            if route.matches_labels(labels):
                for name in route.notifiers:
                    found.setdefault(name, route)
        return list(found.items())
