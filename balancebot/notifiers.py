"""Notifier plugins, found through `balancebot.notifiers` entry points.

A notifier declares its own options model (validated at config load, unknown keys are
errors) and raises `DeliveryError(permanent=...)` so the dispatcher knows whether to retry.
A notifier may reach several targets (Telegram chats, Slack channels); the outbox tracks
each target separately, so a retry never repeats a message a target already has.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Collection, Mapping
from typing import ClassVar

from msgspec import Struct

from . import plugins
from .clock import Clock, SystemClock
from .config import convert
from .config.values import NoOptions
from .models import AlertKey, Notification
from .redact import secrets_in

log = logging.getLogger(__name__)


class Notifier(abc.ABC):
    Options: ClassVar[type[Struct]] = NoOptions
    merges_groups: ClassVar[bool] = True
    """A route's group (`group_by`) reaches it as one message listing the alerts; False
    for services that group alerts themselves (Alertmanager, PagerDuty): each alert of the
    group goes to them as its own notification, when the group's message would be due."""

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        self.name = name
        self.options = options
        self.clock = clock or SystemClock()

    @classmethod
    def from_options(
        cls, name: str, options: dict[str, object], clock: Clock | None = None
    ) -> Notifier:
        return cls(name, convert(options, cls.Options), clock)

    @classmethod
    def secrets(cls, options: Struct) -> set[str]:
        """Everything to mask in logs: the options' `Secret`s, and any piece of them a
        library may log on its own (an address's token, say)."""
        return secrets_in(options)

    async def start(self) -> None:  # noqa: B027 - optional hook, most notifiers need none
        """Open connections; called once inside the running event loop."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most notifiers need none
        """Release connections."""

    async def slot(self, target: str) -> None:  # noqa: B027 - optional hook
        """Wait until the platform's rate limits let a message go to `target`. Delivery
        awaits this before a send's deadline starts: a burst to many chats of one bot is
        a queue, not a slow platform. A notifier that paces here lets its `send` take the
        slot without waiting again; one that does not define it paces in `send`, if at all."""

    def watch(self, firing: Callable[[], Collection[AlertKey]]) -> None:  # noqa: B027
        """Optional hook: how to read which alerts fire now (the engine's alert states).
        A notifier whose service forgets an alert unless told again (Alertmanager) keeps
        telling it only these; the daemon calls this once its states are loaded."""

    def targets(self) -> list[str]:
        """Where each notification goes; one outbox row per target."""
        return [""]

    def describe(self) -> str:
        """For logs and status: the notifier with its secrets masked."""
        return f"{self.name} ({type(self).__name__})"

    @abc.abstractmethod
    async def send(self, notification: Notification, target: str) -> None:
        """Deliver, or raise `DeliveryError`; return only once the platform accepted it."""


def notifier_class(name: str, where: str = "type") -> type[Notifier]:
    """The notifier registered as `name` (`balancebot.notifiers` entry points)."""
    cls: type[Notifier] = plugins.load(plugins.NOTIFIERS, name, where)
    return cls


async def close_all(notifiers: Mapping[str, Notifier]) -> None:
    for name, notifier in notifiers.items():
        try:
            await notifier.close()
        except Exception:  # one notifier's broken close must not keep the others open
            log.exception("closing notifier %s failed", name)
