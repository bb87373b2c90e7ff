"""Each plugin's own options, validated by its own struct: a provider's `options` table,
a notifier's keys beside `name` and `type`, a plugin front-end's `[chat.<name>]`. Also
every secret they hold, for redaction."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import CheckError, ConfigError
from ..plugins import frontend_class, notifier_class, provider_class
from .references import tables
from .values import convert, decode

if TYPE_CHECKING:
    from .models import Config


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
            frontend = frontend_class(name)
        except ConfigError as exc:  # a misspelt key of [chat], more often than a plugin
            from .models import CHAT_GATHERED, ChatConfig
            from .suggest import suggestion

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
    from ..redact import secrets_in  # redact imports config's Secret

    found = secrets_in(config)
    for account in config.accounts:
        provider = provider_class(account.provider)()
        found |= provider.secrets(convert(account.options, provider.Options))
    for notifier in config.notifiers:
        cls = notifier_class(notifier.type)
        found |= cls.secrets(convert(notifier.options, cls.Options))
    for name, section in config.chat.frontends.items():
        found |= secrets_in(convert(section, frontend_class(name).Options))
    return found
