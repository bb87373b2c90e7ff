"""Loading and validating the TOML configuration.

Every problem is collected and reported at once as a `ConfigError` naming the key path
(`accounts[1].api_key: environment variable DEEPSEEK_KEY_2 is not set`); only the CLI turns
that into an exit status. Secrets never need to be in the file: `${ENV_VAR}` anywhere in a
string, or `<key>_file = "path"` for any key, reads them from the environment or a file.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .models import Currency, Severity

log = logging.getLogger(__name__)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def parse_duration(value: object) -> timedelta:
    """`90`, `"90s"`, `"5m"`, `"1h30m"`, `"2d"` → timedelta."""
    if isinstance(value, timedelta):
        return value
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
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


def parse_money(value: object) -> Decimal:
    """Amounts from TOML strings or numbers, exactly as written."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError('expected an amount like "10.00"')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return amount


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Money = Annotated[Decimal, BeforeValidator(parse_money)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AccountConfig(_Strict):
    name: Name
    provider: str = "deepseek"
    api_key: SecretStr
    base_url: str | None = Field(None, description="provider default when unset")
    check_interval: Duration = timedelta(minutes=5)
    jitter: Duration | None = None
    timeout: Duration = timedelta(seconds=20)
    connect_timeout: Duration = timedelta(seconds=5)

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, key: SecretStr) -> SecretStr:
        if not key.get_secret_value().strip():
            raise ValueError("is empty")
        return key

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url


class ThresholdLimits(_Strict):
    warning_below: Money | None = None
    critical_below: Money | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdLimits:
        if self.warning_below is None and self.critical_below is None:
            raise ValueError("set warning_below, critical_below or both")
        if (
            self.warning_below is not None
            and self.critical_below is not None
            and self.critical_below > self.warning_below
        ):
            raise ValueError("critical_below must not be above warning_below")
        return self


class _RuleBase(_Strict):
    name: Name
    accounts: list[str] | None = Field(None, description="None: every account")
    for_checks: int = Field(1, alias="for", ge=1, le=1000)
    repeat_interval: Duration = timedelta(hours=4)
    send_resolved: bool = True

    def applies_to(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts


class ThresholdRuleConfig(_RuleBase):
    type: Literal["threshold"]
    thresholds: dict[Currency, ThresholdLimits] = Field(min_length=1)
    hysteresis: Money = Decimal("0")

    @field_validator("hysteresis")
    @classmethod
    def _non_negative(cls, margin: Decimal) -> Decimal:
        if margin < 0:
            raise ValueError("must not be negative")
        return margin


class UnavailableRuleConfig(_RuleBase):
    type: Literal["unavailable"]


class CheckFailedRuleConfig(_RuleBase):
    type: Literal["check_failed"]
    after_failures: int = Field(3, ge=1, le=1000)


RuleConfig = Annotated[
    ThresholdRuleConfig | UnavailableRuleConfig | CheckFailedRuleConfig,
    Field(discriminator="type"),
]


DEFAULT_RULES: tuple[RuleConfig, ...] = (
    UnavailableRuleConfig(type="unavailable", name="unavailable"),
    CheckFailedRuleConfig(type="check_failed", name="check-failed"),
)
"""Without a `[[rules]]` section: alert when the account is unusable or checks fail."""


class NotifierConfig(BaseModel):
    """Name and type here; the plugin validates its own options (see `plugins`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Name
    type: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def __repr_args__(self) -> Any:
        # options may hold tokens; the plugin's own model knows which, this one doesn't
        return [("name", self.name), ("type", self.type)]


class RouteConfig(_Strict):
    notifiers: list[str] = Field(min_length=1)
    accounts: list[str] | None = None
    rules: list[str] | None = None
    min_severity: Literal["info", "warning", "critical"] = "info"

    def matches(self, account: str, rule: str, severity: Severity) -> bool:
        return (
            (self.accounts is None or account in self.accounts)
            and (self.rules is None or rule in self.rules)
            and severity >= Severity[self.min_severity.upper()]
        )


ChatId = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]


class AllowRule(_Strict):
    """Who may ask about which accounts: a chat/channel id or a user id matches."""

    platform: Literal["telegram", "slack"]
    chats: list[ChatId] = []
    users: list[ChatId] = []
    accounts: list[str] | None = Field(None, description="None: every account")

    @model_validator(mode="after")
    def _someone(self) -> AllowRule:
        if not self.chats and not self.users:
            raise ValueError("list chats, users or both")
        return self


class TelegramChatConfig(_Strict):
    notifier: str = Field(description="the telegram notifier whose bot answers")


class SlackChatConfig(_Strict):
    notifier: str = Field(description="the slack notifier (bot token) that answers")
    mode: Literal["socket", "http"] = "socket"
    app_token: SecretStr | None = Field(None, description="xapp-..., for socket mode")
    signing_secret: SecretStr | None = Field(None, description="for http mode")

    @model_validator(mode="after")
    def _mode_needs(self) -> SlackChatConfig:
        if self.mode == "socket" and self.app_token is None:
            raise ValueError("socket mode needs app_token (an xapp- app-level token)")
        if self.mode == "http" and self.signing_secret is None:
            raise ValueError("http mode needs signing_secret")
        return self


class ChatConfig(_Strict):
    balance_max_age: Duration = timedelta(minutes=5)
    telegram: TelegramChatConfig | None = None
    slack: SlackChatConfig | None = None
    allow: list[AllowRule] = []


class DigestConfig(_Strict):
    schedule: str | None = Field(None, description='cron, in `timezone`: "0 9 * * *"')

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        if schedule is not None:
            from apscheduler.triggers.cron import CronTrigger  # only when one is configured

            try:
                CronTrigger.from_crontab(schedule)
            except ValueError as exc:
                raise ValueError(f"{schedule!r} is not a cron expression: {exc}") from None
        return schedule


class HttpConfig(_Strict):
    enabled: bool = False
    listen: str = Field("127.0.0.1:9464", pattern=r"^[^:\s]+:\d+$")


class StoreConfig(_Strict):
    url: str | None = Field(None, description="sqlite:///path or postgresql://...")
    path: Path = Path("balancebot.db")
    keep_full_resolution: Duration = timedelta(days=30)
    downsample_to: Duration = timedelta(hours=1)

    @property
    def database_url(self) -> str:
        return self.url if self.url else f"sqlite:///{self.path}"


class Config(_Strict):
    timezone: str = "UTC"
    max_concurrent_checks: int = Field(10, ge=1, le=1000)
    store: StoreConfig = StoreConfig()
    accounts: list[AccountConfig] = Field(min_length=1)
    rules: list[RuleConfig] = Field(default_factory=lambda: list(DEFAULT_RULES))
    notifiers: list[NotifierConfig] = Field(
        default_factory=lambda: [NotifierConfig(name="console", type="console")]
    )
    routes: list[RouteConfig] = Field(default_factory=list)
    chat: ChatConfig = ChatConfig()
    http: HttpConfig = HttpConfig()
    digest: DigestConfig = DigestConfig()
    language: Literal["en", "zh"] = "en"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        problems: list[str] = []
        for section, items in (
            ("accounts", self.accounts),
            ("rules", self.rules),
            ("notifiers", self.notifiers),
        ):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.name in seen:
                    problems.append(f"{section}[{i}].name: duplicate name {item.name!r}")
                seen.add(item.name)
        accounts = {a.name for a in self.accounts}
        rules = {r.name for r in self.rules}
        notifiers = {n.name for n in self.notifiers}
        for i, rule in enumerate(self.rules):
            for name in sorted(set(rule.accounts or ()) - accounts):
                problems.append(f"rules[{i}].accounts: no account named {name!r}")
        for i, route in enumerate(self.routes):
            for field, known, names in (
                ("notifiers", notifiers, route.notifiers),
                ("accounts", accounts, route.accounts or ()),
                ("rules", rules, route.rules or ()),
            ):
                for name in sorted(set(names) - known):
                    problems.append(f"routes[{i}].{field}: no {field[:-1]} named {name!r}")
        for i, allow in enumerate(self.chat.allow):
            for name in sorted(set(allow.accounts or ()) - accounts):
                problems.append(f"chat.allow[{i}].accounts: no account named {name!r}")
        by_name = {n.name: n for n in self.notifiers}
        for platform, front_end in (("telegram", self.chat.telegram), ("slack", self.chat.slack)):
            if front_end is None:
                continue
            notifier = by_name.get(front_end.notifier)
            if notifier is None or notifier.type != platform:
                problems.append(
                    f"chat.{platform}.notifier: no {platform} notifier named {front_end.notifier!r}"
                )
            elif platform == "slack" and "bot_token" not in notifier.options:
                problems.append("chat.slack.notifier: answering commands needs a bot_token")
        if self.chat.slack and self.chat.slack.mode == "http" and not self.http.enabled:
            problems.append("chat.slack.mode: http mode is served by [http]; set enabled = true")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def account(self, name: str) -> AccountConfig:
        return next(a for a in self.accounts if a.name == name)

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


def format_location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _resolve_secrets(
    node: Any,
    path: tuple[int | str, ...],
    base_dir: Path,
    env: Mapping[str, str],
    problems: list[str],
) -> Any:
    """Expand `${VAR}` in strings and `<key>_file` into `<key>`, recording problems."""
    if isinstance(node, dict):
        resolved: dict[str, Any] = {}
        for key, value in node.items():
            if key.endswith("_file") and isinstance(value, str):
                target = key.removesuffix("_file")
                where = format_location((*path, key))
                if target in node:
                    problems.append(f"{where}: set at most one of {target} and {key}")
                    continue
                file = base_dir / _expand(value, where, env, problems)
                try:
                    resolved[target] = file.read_text(encoding="utf-8").strip()
                    mode = file.stat().st_mode
                except OSError as exc:
                    problems.append(f"{where}: cannot read {file}: {exc.strerror}")
                    continue
                if mode & 0o077:
                    log.warning(
                        "%s: %s can be read by other users (mode %s); chmod 600 it",
                        where,
                        file,
                        oct(mode & 0o777),
                    )
                continue
            resolved[key] = _resolve_secrets(value, (*path, key), base_dir, env, problems)
        return resolved
    if isinstance(node, list):
        return [
            _resolve_secrets(item, (*path, i), base_dir, env, problems)
            for i, item in enumerate(node)
        ]
    if isinstance(node, str):
        return _expand(node, format_location(path), env, problems)
    return node


def _expand(text: str, where: str, env: Mapping[str, str], problems: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(f"{where}: environment variable {name} is not set")
        return ""

    return _ENV_REF.sub(replace, text)


def parse_config(
    raw: Mapping[str, Any],
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    with_notifiers: bool = True,
) -> Config:
    """`with_notifiers=False` skips loading notifier plugins (`check` sends nothing)."""
    problems: list[str] = []
    data = _resolve_secrets(dict(raw), (), base_dir, os.environ if env is None else env, problems)
    if problems:
        raise ConfigError(problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    store_path = config.store.path
    if not store_path.is_absolute():
        config = config.model_copy(
            update={"store": config.store.model_copy(update={"path": base_dir / store_path})}
        )
    from .plugins import check_plugins  # plugins import config's models

    check_plugins(config, with_notifiers)
    return config


def _describe(exc: ValidationError) -> list[str]:
    """Pydantic errors as `key.path: message`; model-level checks already name their paths."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        for line in error["msg"].removeprefix("Value error, ").splitlines():
            problems.append(line if not loc else f"{format_location(loc)}: {line}")
    return problems


def _is_union_tag(part: int | str) -> bool:
    return part in ("threshold", "unavailable", "check_failed")


def load_config(
    path: str | Path, env: Mapping[str, str] | None = None, with_notifiers: bool = True
) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_config(raw, path.parent.resolve(), env, with_notifiers)
