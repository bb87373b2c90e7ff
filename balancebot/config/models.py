"""The configuration's models: msgspec Structs, strict (unknown keys are errors)."""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

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
from .chat import ChatConfig
from .durations import (
    CheckInterval,
    Delay,
    RequestTimeout,
    Resolution,
    Retention,
)
from .mcp import McpConfig
from .rules import (
    DEFAULT_RULES,
    RuleConfig,
    ThresholdLimits,
    ThresholdRuleConfig,
)
from .status_access import check_password_hash, check_token, exposure_problem
from .store_url import check_sslmode, normalise_store_url
from .strict import Strict as _Strict
from .values import HttpUrl, ListenAddress, Name, Secret, TimeZoneName

if TYPE_CHECKING:
    import zoneinfo


_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
