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
import tomllib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import msgspec

from ..errors import ConfigError
from .amounts import amount_problems
from .chat import (
    CHAT_GATHERED,
    AllowRule,
    ChatConfig,
    SlackChatConfig,
    TelegramChatConfig,
)
from .durations import RequestTimeout
from .mcp import McpConfig
from .models import (
    AccountConfig,
    Config,
    DigestConfig,
    HeartbeatConfig,
    HttpConfig,
    InhibitConfig,
    NotifierConfig,
    RouteConfig,
    StoreConfig,
)
from .references import names, reference_problems, unknown_names
from .rules import (
    DEFAULT_RULES,
    CheckFailedRuleConfig,
    RuleConfig,
    RunwayRuleConfig,
    SpendSpikeRuleConfig,
    ThresholdLimits,
    ThresholdRuleConfig,
    TopUpRuleConfig,
    TrendRuleConfig,
    UnavailableRuleConfig,
)
from .secrets import Location, resolve_secrets
from .store_url import normalise_store_url
from .values import (
    Delay,
    Duration,
    HeaderValue,
    HttpUrl,
    Name,
    Secret,
    TimeZoneName,
    convert,
    decode,
    parse_duration,
)

__all__ = [
    "DEFAULT_RULES",
    "AccountConfig",
    "AllowRule",
    "ChatConfig",
    "CheckFailedRuleConfig",
    "Config",
    "Delay",
    "DigestConfig",
    "Duration",
    "HeaderValue",
    "HeartbeatConfig",
    "HttpConfig",
    "HttpUrl",
    "InhibitConfig",
    "McpConfig",
    "Name",
    "NotifierConfig",
    "PluginCheck",
    "RequestTimeout",
    "RouteConfig",
    "RuleConfig",
    "RunwayRuleConfig",
    "Secret",
    "SlackChatConfig",
    "SpendSpikeRuleConfig",
    "StoreConfig",
    "TelegramChatConfig",
    "ThresholdLimits",
    "ThresholdRuleConfig",
    "TimeZoneName",
    "TopUpRuleConfig",
    "TrendRuleConfig",
    "UnavailableRuleConfig",
    "build_config",
    "convert",
    "decode",
    "normalise_store_url",
    "parse_duration",
    "read_toml",
]

PluginCheck = Callable[[Mapping[str, Any], Collection[int], "Config | None", bool], list[str]]
"""What the plugins make of the raw tables (`configure.plugin_problems`): given the tables,
the indexes of the notifiers in use, the finished configuration if it was built, and
whether `[chat]` is in use, every problem of the plugins' own options."""


ACCOUNT_SECRETS = {("api_key",), ("api_key_file",), ("options",)}


def build_config(
    raw: Mapping[str, Any],
    base_dir: Path,
    env: Mapping[str, str] | None,
    notifiers: Collection[str] | None,
    plugin_problems: PluginCheck,
    keys: bool = True,
) -> Config:
    """Every problem at once, or the Config. The plugins' options are checked by
    `plugin_problems`, which the layer that knows the plugins passes in
    (`configure.parse_config`): the configuration's own models never load a plugin.

    `notifiers`: the names of the notifiers the command will build (None: all). The others'
    plugins are not loaded and their secrets are not needed, nor are `[chat]`'s: `check`
    must run on a monitoring host that has no chat tokens. `keys=False`: nor are the
    accounts' keys and options (`balancebot mcp` only reads the store, started by an
    assistant's client whose environment may not hold them)."""
    problems: list[str] = []
    selected = _selected_notifiers(raw, notifiers)

    def needed(path: Location) -> bool:
        if not keys and path[:1] == ("accounts",) and path[2:3] in ACCOUNT_SECRETS:
            return False
        if notifiers is None or not path:
            return True
        if path[0] == "chat" or path[:2] in (("mcp", "token"), ("mcp", "token_file")):
            return False
        return path[0] != "notifiers" or len(path) < 2 or path[1] in selected

    env = os.environ if env is None else env
    data = resolve_secrets(dict(raw), base_dir, env, problems, needed)
    if not keys and isinstance(data.get("accounts"), list):  # a missing file left no key
        for account in data["accounts"]:
            if isinstance(account, dict):
                account.setdefault("api_key", "(not read by this command)")
    if notifiers is not None and isinstance(data.get("mcp"), dict):
        # serving /mcp is the daemon's: other commands (`balancebot mcp` too) need no token
        data["mcp"] = {k: v for k, v in data["mcp"].items() if k not in ("http", "token")}
    if isinstance(data.get("notifiers"), list):
        data["notifiers"] = [_gather_options(item) for item in data["notifiers"]]
    if isinstance(data.get("chat"), dict):
        data["chat"] = _gather_frontends(data["chat"], problems)
    config: Config | None = None
    try:
        config = convert(data, Config)
    except ConfigError as exc:
        problems += exc.problems

    if config is not None:
        problems += amount_problems(config.rules, ("rules",))
    problems += reference_problems(data)
    if notifiers:
        problems += unknown_names("--notifier", "notifier", notifiers, names(data, "notifiers"))
    problems += plugin_problems(data, selected, config, notifiers is None)
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


def _gather_frontends(chat: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """`[chat.<name>]` of a plugin front-end sits beside `[chat.telegram]`. Any other key is
    a mistake the user made under `[chat]`, said so under the name they wrote (not as
    `chat.frontends.<key>`, which they never wrote)."""
    own = {f.encode_name for f in msgspec.structs.fields(ChatConfig)} - CHAT_GATHERED
    gathered = {k: v for k, v in chat.items() if k in own}
    frontends = {k: v for k, v in chat.items() if k not in own and isinstance(v, dict)}
    for key in chat.keys() - own - frontends.keys():
        from .suggest import suggestion  # only for a configuration that is wrong

        hint = suggestion(key, chat[key], ChatConfig, ("chat",), decode, CHAT_GATHERED)
        known = ", ".join(sorted(own))
        problems.append(
            f"chat.{key}: unknown key (known: {known}, and [chat.<name>] tables of installed "
            f"front-ends){hint}"
        )
    return gathered | {"frontends": frontends}


def _gather_options(notifier: object) -> object:
    """A notifier's own keys sit beside `name` and `type` in the file."""
    if not isinstance(notifier, dict):
        return notifier
    options = {k: v for k, v in notifier.items() if k not in ("name", "type")}
    return {k: notifier[k] for k in ("name", "type") if k in notifier} | {"options": options}


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables, or a `ConfigError` saying in one line why it cannot be read."""
    try:
        # a leading BOM (Notepad's "UTF-8") is no TOML statement: tomllib says "Invalid
        # statement (at line 1, column 1)" for a file that looks right in every editor
        raw = tomllib.loads(path.read_text(encoding="utf-8").removeprefix("\ufeff"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start + 1})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return raw
