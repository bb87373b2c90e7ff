"""The default notifier: human-readable text on standard output."""

from __future__ import annotations

import sys
from typing import TextIO

from msgspec import Struct

from ...clock import Clock
from ...models import Notification
from ...notifiers import Notifier
from ...render import console_text


class ConsoleNotifier(Notifier):
    def __init__(
        self,
        name: str,
        options: Struct,
        clock: Clock | None = None,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(name, options, clock)
        self._stream = stream

    async def send(self, notification: Notification, target: str) -> None:
        stream = self._stream or sys.stdout
        stream.write(console_text(notification) + "\n")
        stream.flush()
