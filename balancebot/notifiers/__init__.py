"""Notifier plugins, found through `balancebot.notifiers` entry points.

A notifier declares its own options model (validated at config load, unknown keys are
errors) and raises `DeliveryError(permanent=...)` so the dispatcher knows whether to retry.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from ..models import Notification


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Notifier(abc.ABC):
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, name: str, options: BaseModel) -> None:
        self.name = name
        self.options = options

    @classmethod
    def from_options(cls, name: str, options: dict[str, object]) -> Notifier:
        return cls(name, cls.Options.model_validate(options))

    async def start(self) -> None:  # noqa: B027 - optional hook, most notifiers need none
        """Open connections; called once inside the running event loop."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most notifiers need none
        """Release connections."""

    @abc.abstractmethod
    async def send(self, notification: Notification) -> None:
        """Deliver, or raise `DeliveryError`; return only once the platform accepted it."""
