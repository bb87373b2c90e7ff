"""balancebot watching itself: what is wrong with the daemon, kept in memory.

The store, the scheduler and the checks report their trouble here; `self_alerts.py` tells
people about it and `/readyz` reads it. It must work when the store does not.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from .clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    since: datetime


class Health:
    """Problems by name (`store`, `checks:prod`), in memory only: it must work when the
    store does not. `changed` is set whenever a problem appears or goes away."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._problems: dict[str, Problem] = {}
        self.changed = asyncio.Event()
        self.clock: Clock = clock or SystemClock()
        """Replaced by the daemon's clock by the parts that have one (the store has none)."""

    def report(self, name: str, message: str) -> None:
        known = self._problems.get(name)
        self._problems[name] = Problem(message, known.since if known else self.clock.now())
        if known is None:
            self.changed.set()

    def clear(self, name: str) -> None:
        if self._problems.pop(name, None) is not None:
            self.changed.set()

    def problems(self) -> dict[str, Problem]:
        return dict(self._problems)

    @property
    def healthy(self) -> bool:
        return not self._problems
