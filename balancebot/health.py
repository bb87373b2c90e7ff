"""balancebot watching itself: what is wrong with the daemon, and telling people about it.

Every alert normally travels through the store (outbox). When the store itself cannot be
written, or checks keep failing inside balancebot, that path is exactly what is broken; so
these `self` alerts are kept in memory and sent straight to the notifiers, with their own
repeat and a resolved notice once the problem is gone. `/readyz` reads `Health` too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from .clock import Clock, SystemClock
from .deadline import within
from .i18n import _
from .models import Notification, Severity, TransitionKind

log = logging.getLogger(__name__)

SELF_ACCOUNT = "balancebot"
SELF_RULE = "self"


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


class NotifierLike(Protocol):
    """The part of `Notifier` self alerts use."""

    async def send(self, notification: Notification, target: str) -> None: ...

    def targets(self) -> list[str]: ...


Route = tuple[str, str]


class SelfAlerts:
    """Sends `Health` problems to every notifier target directly, not through the store."""

    def __init__(
        self,
        health: Health,
        notifiers: Mapping[str, NotifierLike],
        clock: Clock,
        repeat_interval: timedelta = timedelta(hours=1),
        retry_after: timedelta = timedelta(seconds=30),
        send_timeout: float = 10.0,
        replica: str | None = None,
    ) -> None:
        self._health = health
        self._replica = replica
        self._notifiers = notifiers
        self._clock = clock
        self._repeat = repeat_interval
        self._retry = retry_after
        self._timeout = send_timeout
        self._told: dict[str, dict[Route, datetime]] = {}  # problem -> route -> last told
        self._started: dict[str, datetime] = {}
        self._retry_at: datetime | None = None
        self.sent: list[Notification] = []
        """Every self notification sent, for status and tests."""

    async def tell(self) -> datetime | None:
        """Send what is due now; returns when to call again (None: only on a change)."""
        now = self._clock.now()
        routes = [(n, t) for n, notifier in self._notifiers.items() for t in notifier.targets()]
        problems = self._health.problems()
        sends: list[tuple[str, Route, Notification]] = []
        for name, problem in problems.items():
            if name not in self._started:
                log.error("balancebot is unhealthy: %s", problem.message)
            self._started.setdefault(name, problem.since)
            told = self._told.setdefault(name, {})
            for route in routes:
                last = told.get(route)
                if last is None or now - last >= self._repeat:
                    kind = TransitionKind.FIRING if last is None else TransitionKind.REPEAT
                    sends.append((name, route, self._notification(kind, name, problem, now)))
        for name in [n for n in self._started if n not in problems and n not in self._told]:
            log.warning("balancebot recovered: %s", name)  # nobody was told it was ill
            del self._started[name]
        for name in [n for n in self._told if n not in problems]:
            gone = Problem(_("recovered"), self._started.get(name, now))
            for route in self._told[name]:
                sends.append(
                    (name, route, self._notification(TransitionKind.RESOLVED, name, gone, now))
                )
        results = await asyncio.gather(*(self.send(route, n) for _, route, n in sends))
        failed = False
        for (name, route, notification), ok in zip(sends, results, strict=True):
            failed |= not ok
            if not ok:
                continue
            if notification.kind is TransitionKind.RESOLVED:
                self._told[name].pop(route, None)
            else:
                self._told[name][route] = now
        for name in [n for n, told in self._told.items() if not told and n not in problems]:
            log.warning("balancebot recovered: %s", name)
            del self._told[name]
            self._started.pop(name, None)
        return self._next(now, failed)

    def _next(self, now: datetime, failed: bool) -> datetime | None:
        moments = [last + self._repeat for told in self._told.values() for last in told.values()]
        if failed:
            moments.append(now + self._retry)
        return min(moments, default=None)

    def _notification(
        self, kind: TransitionKind, name: str, problem: Problem, now: datetime
    ) -> Notification:
        if kind is TransitionKind.RESOLVED:
            headline = _("RESOLVED: balancebot is healthy again ({problem})").format(problem=name)
            details: tuple[str, ...] = ()
        else:
            label = _("CRITICAL (still)") if kind is TransitionKind.REPEAT else _("CRITICAL")
            headline = f"{label}: balancebot: {problem.message}"
            details = (_("Balance alerts may not go out until this is fixed."),)
        if self._replica is not None:
            details += (_("Replica: {name}").format(name=self._replica),)
        return Notification(
            kind,
            Severity.CRITICAL,
            SELF_ACCOUNT,
            SELF_RULE,
            name,
            headline,
            details,
            now,
            problem.since,
        )

    async def send(self, route: Route, notification: Notification) -> bool:
        """One notice to one target now, not through the store (also what a check could
        not store, `unrecorded.py`); False, logged, when it could not be sent."""
        notifier, target = route
        try:
            send = self._notifiers[notifier].send(notification, target)
            await within(send, self._timeout, f"self alert to {notifier}")
        except Exception as exc:  # never let telling about trouble become more trouble
            log.warning(
                "self alert to %s could not be sent: %s: %s", notifier, type(exc).__name__, exc
            )
            return False
        self.sent.append(notification)
        log.info("self alert %s sent to %s", notification.kind.value, notifier)
        return True
