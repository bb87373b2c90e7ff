"""Finding providers, notifiers and chat front-ends through entry points.

The built-in DeepSeek provider and console/Slack/Telegram notifiers are registered in
pyproject.toml exactly as a third-party package would register its own, and are imported
only when a configuration names them.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from .config import Config
    from .frontends import FrontEnd
    from .notifiers import Notifier
    from .providers import Provider

PROVIDERS = "balancebot.providers"
NOTIFIERS = "balancebot.notifiers"
FRONTENDS = "balancebot.frontends"


BUILT_IN_PROVIDERS = {
    "deepseek": "balancebot.providers.deepseek:DeepSeekProvider",
    "moonshot": "balancebot.providers.moonshot:MoonshotProvider",
    "siliconflow": "balancebot.providers.siliconflow:SiliconFlowProvider",
    "openrouter": "balancebot.providers.openrouter:OpenRouterProvider",
    "stepfun": "balancebot.providers.stepfun:StepFunProvider",
    "novita": "balancebot.providers.novita:NovitaProvider",
    "one-api": "balancebot.providers.relay:OneApiProvider",
    "new-api": "balancebot.providers.relay:NewApiProvider",
    "json": "balancebot.providers.json:JsonProvider",
    "venice": "balancebot.providers.venice:VeniceProvider",
    "fal": "balancebot.providers.fal:FalProvider",
    "xai": "balancebot.providers.xai:XaiProvider",
    "tencentcloud": "balancebot.providers.tencentcloud:TencentCloudProvider",
    "aliyun": "balancebot.providers.aliyun:AliyunProvider",
    "volcengine": "balancebot.providers.volcengine:VolcengineProvider",
}
"""balancebot's own providers, as pyproject.toml registers them (a test keeps the two
equal): found without reading every installed package's entry points, which took a tenth
of a `check` (importlib.metadata, ~75 distributions). A built-in name always means the
built-in provider."""


@cache
def _registered(group: str) -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=group)}


def available(group: str) -> list[str]:
    return sorted(_registered(group))


def distribution(group: str, name: str) -> str:
    """The distribution that registered a plugin, with its version ("balancebot" for
    the built-in ones): tells a user which package to look at, and tests which are ours."""
    dist = _registered(group)[name].dist
    if dist is None or dist.name == "balancebot":
        return "balancebot"
    return f"{dist.name} {dist.version}"


def _load(group: str, name: str, where: str) -> Any:
    if group == PROVIDERS and name in BUILT_IN_PROVIDERS:
        module, attribute = BUILT_IN_PROVIDERS[name].split(":")
        return getattr(importlib.import_module(module), attribute)
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


def provider_title(config: Config, account: str) -> str:
    """What people call an account's provider ("DeepSeek"), as alerts and charts name it."""
    name = next(a.provider for a in config.accounts if a.name == account)
    return provider_class(name).display_name


def notifier_class(name: str, where: str = "type") -> type[Notifier]:
    cls: type[Notifier] = _load(NOTIFIERS, name, where)
    return cls


def frontend_class(name: str, where: str = "chat") -> type[FrontEnd]:
    cls: type[FrontEnd] = _load(FRONTENDS, name, f"{where}.{name}")
    return cls
