"""Finding providers, notifiers and chat front-ends through entry points.

The built-in providers, notifiers and front-ends are registered in pyproject.toml exactly
as a third-party package would register its own, and are imported only when a
configuration names them. This module only finds and loads them; each contract types what
it loads next to itself (`providers.provider_class`, `notifiers.notifier_class`,
`frontends.frontend_class`), so finding plugins depends on nothing that plugins implement.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

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


def load(group: str, name: str, where: str) -> Any:
    """The object the entry point `name` of `group` names, or a `ConfigError` saying what
    `where` asked for and which are installed."""
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
