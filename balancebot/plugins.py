"""Finding providers, notifiers and chat front-ends through entry points.

The built-in DeepSeek provider and console/Slack/Telegram notifiers are registered in
pyproject.toml exactly as a third-party package would register its own, and are imported
only when a configuration names them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from .config import convert
from .errors import CheckError, ConfigError

if TYPE_CHECKING:
    from .config import Config
    from .frontends import FrontEnd
    from .notifiers import Notifier
    from .providers import Provider

PROVIDERS = "balancebot.providers"
NOTIFIERS = "balancebot.notifiers"
FRONTENDS = "balancebot.frontends"


@cache
def _registered(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def available(group: str) -> list[str]:
    return sorted(_registered(group))


def _load(group: str, name: str, where: str) -> Any:
    entry = _registered(group).get(name)
    if entry is None:
        kind = group.rsplit(".", 1)[1][:-1]
        raise ConfigError(
            [f"{where}: unknown {kind} {name!r} (installed: {', '.join(available(group))})"]
        )
    return entry.load()


def provider_class(name: str, where: str = "provider") -> type[Provider[Any]]:
    cls: type[Provider[Any]] = _load(PROVIDERS, name, where)
    return cls


def notifier_class(name: str, where: str = "type") -> type[Notifier]:
    cls: type[Notifier] = _load(NOTIFIERS, name, where)
    return cls


def frontend_class(name: str, where: str = "chat") -> type[FrontEnd]:
    cls: type[FrontEnd] = _load(FRONTENDS, name, f"{where}.{name}")
    return cls


def plugin_problems(
    data: Mapping[str, Any], notifiers: Collection[int], config: Config | None = None
) -> list[str]:
    """Every named provider exists with options that fit its model, and every notifier in
    `notifiers` (indexes) has a known type and options that fit its own model. Reads the raw
    tables so that it runs even when other keys are wrong; with the finished `config`, also
    builds each account's requests (pure: finds a bad URL made of options)."""
    from .config.references import tables

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
    return problems


def config_secrets(config: Config) -> set[str]:
    """Every secret a configuration holds, notifier options included, for log redaction."""
    from .redact import secrets_in

    found = secrets_in(config)
    for account in config.accounts:
        found |= secrets_in(convert(account.options, provider_class(account.provider).Options))
    for notifier in config.notifiers:
        cls = notifier_class(notifier.type)
        found |= cls.secrets(convert(notifier.options, cls.Options))
    return found
