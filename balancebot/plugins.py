"""Finding providers, notifiers and chat front-ends through entry points.

The built-in DeepSeek provider and console/Slack/Telegram notifiers are registered in
pyproject.toml exactly as a third-party package would register its own, and are imported
only when a configuration names them.
"""

from __future__ import annotations

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


def check_plugins(config: Config, with_notifiers: bool = True) -> None:
    """Every named plugin exists and each account's and notifier's options fit its model."""
    problems: list[str] = []
    for i, account in enumerate(config.accounts):
        try:
            provider = provider_class(account.provider, f"accounts[{i}].provider")
            options = convert(account.options, provider.Options, ("accounts", i, "options"))
            provider().requests(account, options)  # pure: finds a bad URL made of options
        except ConfigError as exc:
            problems += exc.problems
        except CheckError as exc:
            problems.append(f"accounts[{i}]: {exc.message}")
    for i, notifier in enumerate(config.notifiers if with_notifiers else ()):
        try:
            cls = notifier_class(notifier.type, f"notifiers[{i}].type")
            convert(notifier.options, cls.Options, ("notifiers", i))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)


def config_secrets(config: Config, with_notifiers: bool = True) -> set[str]:
    """Every secret a configuration holds, notifier options included, for log redaction."""
    from .redact import secrets_in

    found = secrets_in(config)
    for account in config.accounts:
        found |= secrets_in(convert(account.options, provider_class(account.provider).Options))
    for notifier in config.notifiers if with_notifiers else ():
        cls = notifier_class(notifier.type)
        found |= cls.secrets(convert(notifier.options, cls.Options))
    return found
