"""Loading and validating the TOML configuration.

Every problem is collected and reported at once as a `ConfigError` naming the key path
(`accounts[1].api_key: environment variable DEEPSEEK_KEY_2 is not set`); only the CLI turns
that into an exit status. Secrets never need to be in the file: `${ENV_VAR}` anywhere in a
string, or `<key>_file = "path"` for any key, reads them from the environment or a file.

The models are msgspec Structs: validation is as strict as pydantic's, and importing it
costs ~2 ms against pydantic's ~80 ms, which is most of what `balancebot check` (a process
started by cron or a monitoring system every minute) would otherwise spend.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Collection, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct, field

from ..errors import ConfigError
from ..models import Currency, Severity
from .references import names, reference_problems, unknown_names
from .secrets import Location, clean_secret, resolve_secrets

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

T = TypeVar("T")


class Duration(timedelta):
    """A timedelta written as `90`, `"90s"`, `"5m"`, `"1h30m"` or `"2d"` in the config."""


class Delay(Duration):
    """A Duration that may be zero (`jitter = "0s"`: no jitter)."""


class TimeZoneName(str):
    """An IANA zone name that zoneinfo knows."""


class Secret:
    """A string that keeps out of reprs and tracebacks; reading it is explicit."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def parse_duration(value: object, allow_zero: bool = False) -> Duration:
    """`90`, `"90s"`, `"5m"`, `"1h30m"`, `"2d"` → Duration."""
    if isinstance(value, timedelta):
        return Duration(days=value.days, seconds=value.seconds, microseconds=value.microseconds)
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 4h or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text or _DURATION_PART.sub("", text):
            raise ValueError(f"{value!r} is not a duration like 30s, 5m, 4h or 1h30m")
        seconds = sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    else:
        raise ValueError("expected a duration like 30s, 5m, 4h or a number of seconds")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be positive" + (" or zero" if allow_zero else ""))
    return Duration(seconds=seconds)


def _decode(type_: type, value: object) -> object:
    """msgspec's hook for the types it does not know."""
    if type_ is Duration:
        return parse_duration(value)
    if type_ is Delay:
        return Delay(seconds=parse_duration(value, allow_zero=True).total_seconds())
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if type_ is Secret:
        return Secret(clean_secret(value))
    if type_ is Path:
        return Path(value)
    if type_ is TimeZoneName:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return TimeZoneName(value)
    raise TypeError(f"no decoder for {type_.__name__}")  # a model uses a type added here


def _finite(amount: Decimal | None, where: str) -> None:
    if amount is not None and not amount.is_finite():
        raise ValueError(f"{where} {amount} is not a finite amount")


Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^\S+$")]


class _Strict(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Unknown keys are errors: a typo must not silently become a default.

    Subclasses repeat `frozen=True, kw_only=True` because mypy's dataclass_transform
    support does not inherit class parameters; msgspec would."""


class AccountConfig(_Strict, frozen=True, kw_only=True):
    name: Name
    api_key: Secret
    provider: str = "deepseek"
    base_url: str | None = None  # None: the provider's default
    check_interval: Duration = Duration(minutes=5)
    jitter: Delay | None = None
    timeout: Duration = Duration(seconds=20)
    connect_timeout: Duration = Duration(seconds=5)
    options: dict[str, Any] = field(default_factory=dict)
    """The provider's own settings, validated by its `Options` struct (`plugins.py`)."""

    def __post_init__(self) -> None:
        if not self.api_key.get_secret_value().strip():
            raise ValueError("api_key is empty")
        if self.base_url is not None and not re.match(r"^https?://[^/\s]+", self.base_url):
            raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL")


class ThresholdLimits(_Strict, frozen=True, kw_only=True):
    warning_below: Decimal | None = None
    critical_below: Decimal | None = None

    def __post_init__(self) -> None:
        _finite(self.warning_below, "warning_below")
        _finite(self.critical_below, "critical_below")
        if self.warning_below is None and self.critical_below is None:
            raise ValueError("set warning_below, critical_below or both")
        if (
            self.warning_below is not None
            and self.critical_below is not None
            and self.critical_below > self.warning_below
        ):
            raise ValueError("critical_below must not be above warning_below")


class _RuleBase(_Strict, frozen=True, kw_only=True, tag_field="type"):
    name: Name
    accounts: list[str] | None = None  # None: every account
    for_checks: Annotated[int, Meta(ge=1, le=1000)] = field(default=1, name="for")
    repeat_interval: Duration = Duration(hours=4)
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
    warning_runway: Duration | None = None
    critical_runway: Duration | None = None
    window: Duration = Duration(days=1)  # the rate for *_runway is measured over this
    min_history: Duration = Duration(hours=6)

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
    window: Duration = Duration(days=1)
    min_history: Duration = Duration(hours=6)  # no verdict until the window spans this much
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

    period: Duration = Duration(hours=1)
    factor: Decimal = Decimal("3")
    days: Annotated[int, Meta(ge=1, le=90)] = 7
    min_history: Duration = Duration(days=1)  # of past periods before any verdict
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
    UnavailableRuleConfig(name="unavailable"),
    CheckFailedRuleConfig(name="check-failed"),
)
"""Without a `[[rules]]` section: alert when the account is unusable or checks fail."""


class NotifierConfig(_Strict, frozen=True, kw_only=True):
    """Name and type here; the plugin validates `options` against its own model (`plugins`).

    In the file the options sit beside name and type; `parse_config` gathers them."""

    name: Name
    type: str
    options: dict[str, Any] = {}

    def __repr__(self) -> str:
        # options may hold tokens; the plugin's own model knows which, this one doesn't
        return f"NotifierConfig(name={self.name!r}, type={self.type!r})"


class RouteConfig(_Strict, frozen=True, kw_only=True):
    notifiers: Annotated[list[str], Meta(min_length=1)]
    accounts: list[str] | None = None
    rules: list[str] | None = None
    min_severity: Literal["info", "warning", "critical"] = "info"

    def matches(self, account: str, rule: str, severity: Severity) -> bool:
        return (
            (self.accounts is None or account in self.accounts)
            and (self.rules is None or rule in self.rules)
            and severity >= Severity[self.min_severity.upper()]
        )


class AllowRule(_Strict, frozen=True, kw_only=True):
    """Who may ask about which accounts: anyone in `chats`; `users` in private chats
    (or in `chats` when both are given: user AND chat); `any_chat` restores "that user
    in any chat" for a users-only rule."""

    platform: Literal["telegram", "slack"]
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


class ChatConfig(_Strict, frozen=True, kw_only=True):
    balance_max_age: Duration = Duration(minutes=5)
    telegram: TelegramChatConfig | None = None
    slack: SlackChatConfig | None = None
    allow: list[AllowRule] = []


class DigestConfig(_Strict, frozen=True, kw_only=True):
    schedule: str | None = None  # cron, in `timezone`: "0 9 * * *"

    def __post_init__(self) -> None:
        if self.schedule is not None:
            from apscheduler.triggers.cron import CronTrigger  # only when one is configured

            try:
                CronTrigger.from_crontab(self.schedule)
            except ValueError as exc:
                raise ValueError(
                    f"schedule {self.schedule!r} is not a cron expression: {exc}"
                ) from None


class HttpConfig(_Strict, frozen=True, kw_only=True):
    enabled: bool = False
    listen: Annotated[str, Meta(pattern=r"^[^:\s]+:\d+$")] = "127.0.0.1:9464"


class HeartbeatConfig(_Strict, frozen=True, kw_only=True):
    """A push monitor (healthchecks.io, Uptime Kuma) told after each good check round."""

    url: Secret  # push URLs carry their own token
    method: Literal["GET", "POST"] = "GET"
    timeout: Duration = Duration(seconds=10)

    def __post_init__(self) -> None:
        if not self.url.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("url: expected an http:// or https:// URL")


_URL_SCHEMES = {"sqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql"}


class StoreConfig(_Strict, frozen=True, kw_only=True):
    url: str | None = None  # sqlite:///path or postgresql://... (postgres:// too)
    path: Path = Path("balancebot.db")
    keep_full_resolution: Duration = Duration(days=30)
    downsample_to: Duration = Duration(hours=1)

    def __post_init__(self) -> None:
        if self.url:
            msgspec.structs.force_setattr(self, "url", normalise_store_url(self.url))

    @property
    def database_url(self) -> str:
        return self.url if self.url else f"sqlite:///{self.path}"


def normalise_store_url(url: str) -> str:
    """`postgres://` (what hosting providers hand out) and `postgresql+driver://` as
    `postgresql://`, `sqlite+driver://` as `sqlite://`: the store picks its own asyncio
    drivers. Any other database is refused here rather than failing in `run`."""
    scheme, sep, rest = url.partition("://")
    dialect = _URL_SCHEMES.get(scheme.lower().partition("+")[0]) if sep else None
    if dialect is None:
        raise ValueError(
            f"url {scheme + sep if sep else url!r}: unsupported database; supported: "
            "sqlite:///path/to/file.db, postgresql://user@host:5432/db (postgres:// too)"
        )
    return f"{dialect}://{rest}"


def _default_notifiers() -> list[NotifierConfig]:
    return [NotifierConfig(name="console", type="console")]


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
    digest: DigestConfig = DigestConfig()
    heartbeat: HeartbeatConfig | None = None
    language: Literal["en", "zh"] = "en"

    def rules_for(self, account: str) -> list[RuleConfig]:
        return [r for r in self.rules if r.applies_to(account)]

    def thresholds_for(self, account: str) -> dict[Currency, ThresholdLimits]:
        """The threshold limits that apply to an account (for charts)."""
        limits: dict[Currency, ThresholdLimits] = {}
        for rule in self.rules_for(account):
            if isinstance(rule, ThresholdRuleConfig):
                limits.update(rule.thresholds)
        return limits

    def route(self, account: str, rule: str, severity: Severity) -> list[str]:
        """Notifier names an alert goes to; with no routes, to every notifier."""
        if not self.routes:
            return [n.name for n in self.notifiers]
        names: dict[str, None] = {}
        for route in self.routes:
            if route.matches(account, rule, severity):
                names.update(dict.fromkeys(route.notifiers))
        return list(names)


def parse_config(
    raw: Mapping[str, Any],
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    notifiers: Collection[str] | None = None,
) -> Config:
    """Every problem at once, or the Config.

    `notifiers`: the names of the notifiers the command will build (None: all). The others'
    plugins are not loaded and their secrets are not needed, nor are `[chat]`'s: `check`
    must run on a monitoring host that has no chat tokens."""
    problems: list[str] = []
    selected = _selected_notifiers(raw, notifiers)

    def needed(path: Location) -> bool:
        if notifiers is None or not path:
            return True
        if path[0] == "chat":
            return False
        return path[0] != "notifiers" or len(path) < 2 or path[1] in selected

    env = os.environ if env is None else env
    data = resolve_secrets(dict(raw), base_dir, env, problems, needed)
    if isinstance(data.get("notifiers"), list):
        data["notifiers"] = [_gather_options(item) for item in data["notifiers"]]
    config: Config | None = None
    try:
        config = convert(data, Config)
    except ConfigError as exc:
        problems += exc.problems
    from ..plugins import plugin_problems  # plugins import config's models

    problems += reference_problems(data)
    if notifiers:
        problems += unknown_names("--notifier", "notifier", notifiers, names(data, "notifiers"))
    problems += plugin_problems(data, selected, config)
    if problems or config is None:
        raise ConfigError(list(dict.fromkeys(problems)))
    if not config.store.path.is_absolute():
        store = msgspec.structs.replace(config.store, path=base_dir / config.store.path)
        config = msgspec.structs.replace(config, store=store)
    if notifiers is not None:  # the others stay unresolved: keep them out of reach
        kept = [n for i, n in enumerate(config.notifiers) if i in selected]
        config = msgspec.structs.replace(config, notifiers=kept, chat=ChatConfig())
    return config


def _selected_notifiers(raw: Mapping[str, Any], names: Collection[str] | None) -> set[int]:
    """Indexes of the notifiers a command uses (all without a selection)."""
    items = raw.get("notifiers", [{"name": "console"}])
    if not isinstance(items, list):
        return set()
    return {
        i
        for i, item in enumerate(items)
        if names is None or (isinstance(item, Mapping) and item.get("name") in names)
    }


def _gather_options(notifier: object) -> object:
    """A notifier's own keys sit beside `name` and `type` in the file."""
    if not isinstance(notifier, dict):
        return notifier
    options = {k: v for k, v in notifier.items() if k not in ("name", "type")}
    return {k: notifier[k] for k in ("name", "type") if k in notifier} | {"options": options}


def convert(value: object, type_: type[T], where: tuple[int | str, ...] = ()) -> T:
    """`value` as a `type_`, or a `ConfigError` with every problem and its key path."""
    try:
        return msgspec.convert(value, type_, dec_hook=_decode)
    except msgspec.ValidationError:
        from .explain import explain  # only for a config that is wrong

        raise ConfigError(explain(value, type_, where)) from None


def load_config(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    notifiers: Collection[str] | None = None,
) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start + 1})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_config(raw, path.parent.resolve(), env, notifiers)
