"""Loading a configuration with its plugins: the configuration's own models first
(`config`), then each plugin's own options, validated by its own struct: a provider's
`options` table, a notifier's keys beside `name` and `type`, a front-end's `[chat.<name>]`.
Also every secret they hold, for redaction.

This is the one place that knows both the configuration and the plugin contracts, so the
configuration never loads a plugin and a plugin's contract never waits on the
configuration's loading.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config, build_config, convert, decode, read_toml
from .config.chat import CHAT_GATHERED, ChatConfig
from .config.references import tables
from .errors import CheckError, ConfigError
from .notifiers import notifier_class
from .providers.contract import provider_class
from .redact import secrets_in

if TYPE_CHECKING:
    from .frontends import FrontEnd


def parse_config(
    raw: Mapping[str, Any],
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    notifiers: Collection[str] | None = None,
    keys: bool = True,
) -> Config:
    """Every problem at once, the plugins' included, or the Config.

    `notifiers`: the names of the notifiers the command will build (None: all). The others'
    plugins are not loaded and their secrets are not needed, nor are `[chat]`'s: `check`
    must run on a monitoring host that has no chat tokens. `keys=False`: nor the accounts'
    (a command that only reads the store)."""
    return build_config(raw, base_dir, env, notifiers, plugin_problems, keys)


def load_config(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    notifiers: Collection[str] | None = None,
    keys: bool = True,
) -> Config:
    path = Path(path)
    return parse_config(read_toml(path), path.parent.resolve(), env, notifiers, keys)


def plugin_problems(
    data: Mapping[str, Any],
    notifiers: Collection[int],
    config: Config | None = None,
    chat: bool = True,
) -> list[str]:
    """Every named provider exists with options that fit its model, and every notifier in
    `notifiers` (indexes) has a known type and options that fit its own model, as has each
    plugin front-end's `[chat.<name>]` when the command uses `chat`. Reads the raw tables
    so that it runs even when other keys are wrong; with the finished `config`, also
    builds each account's requests (pure: finds a bad URL made of options)."""
    problems: list[str] = []
    for i, account in tables(data, "accounts"):
        try:
            provider = provider_class(
                str(account.get("provider", "deepseek")), f"accounts[{i}].provider"
            )
            options = convert(
                account.get("options", {}), provider.Options, ("accounts", i, "options")
            )
            if config is not None:
                provider().requests(config.accounts[i], options)
        except ConfigError as exc:
            problems += exc.problems
        except CheckError as exc:
            problems.append(f"accounts[{i}]: {exc.message}")
    for i, notifier in tables(data, "notifiers"):
        if i not in notifiers or not isinstance(notifier.get("type"), str):
            continue
        try:
            cls = notifier_class(notifier["type"], f"notifiers[{i}].type")
            convert(notifier.get("options", {}), cls.Options, ("notifiers", i))
        except ConfigError as exc:
            problems += exc.problems
    section_of = data.get("chat")
    sections = section_of.get("frontends") if chat and isinstance(section_of, Mapping) else None
    for name, section in sections.items() if isinstance(sections, Mapping) else ():
        try:
            frontend = _frontend_class(name)
        except ConfigError as exc:  # a misspelt key of [chat], more often than a plugin
            from .config.suggest import suggestion

            problems += [
                p + suggestion(name, section, ChatConfig, ("chat",), decode, CHAT_GATHERED)
                for p in exc.problems
            ]
            continue
        try:
            convert(section, frontend.Options, ("chat", name))
        except ConfigError as exc:
            problems += exc.problems
    return problems


def config_secrets(config: Config) -> set[str]:
    """Every secret a configuration holds, plugins' options included, for log redaction."""
    found = secrets_in(config)
    for account in config.accounts:
        provider = provider_class(account.provider)()
        found |= provider.secrets(convert(account.options, provider.Options))
    for notifier in config.notifiers:
        cls = notifier_class(notifier.type)
        found |= cls.secrets(convert(notifier.options, cls.Options))
    for name, section in config.chat.frontends.items():
        found |= secrets_in(convert(section, _frontend_class(name).Options))
    return found


def _frontend_class(name: str) -> type[FrontEnd]:
    """The front-end contract brings asyncio, which `check` (no `[chat]` in use) never needs."""
    from .frontends import frontend_class

    return frontend_class(name)
