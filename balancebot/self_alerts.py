"""Telling people about balancebot's own trouble ("self" alerts).

Every alert normally travels through the store (outbox). When the store itself cannot be
written, or checks keep failing inside balancebot, that path is exactly what is broken; so
each `Health` problem is sent straight to every notifier target, not through the store.
It goes through the same lifecycle as an account's alert (`alerts.advance`): one alert per
problem and target, firing once, repeating every `repeat_interval`, resolved with a notice
once the problem is gone. A send that fails leaves that alert's state as it was, so it is
tried again `retry_after` later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from .alerts import Policy, advance
from .clock import Clock
from .deadline import within
from .facts import TroubleFacts
from .health import Health, Problem
from .i18n import _
from .models import (
    AlertKey,
    AlertState,
    AlertStatus,
    Finding,
    Notification,
    RouteTarget,
    Severity,
    Transition,
)
from .models import TransitionKind as Kind
from .render import headline_label

log = logging.getLogger(__name__)

SELF_ACCOUNT = "balancebot"
SELF_RULE = "self"


class NotifierLike(Protocol):
    """The part of `Notifier` self alerts use."""

    async def send(self, notification: Notification, target: str) -> None: ...

    def targets(self) -> list[str]: ...


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
        self._policy = Policy(repeat_interval=repeat_interval)
        self._retry = retry_after
        self._timeout = send_timeout
        self._states: dict[
            tuple[str, RouteTarget], AlertState
        ] = {}  # firing, per problem and route
        self._started: dict[str, datetime] = {}  # problems seen, and since when

    async def tell(self) -> datetime | None:
        """Send what is due now; returns when to call again (None: only on a change)."""
        now = self._clock.now()
        routes = [(n, t) for n, notifier in self._notifiers.items() for t in notifier.targets()]
        problems = self._health.problems()
        due: list[tuple[tuple[str, RouteTarget], AlertState, Notification]] = []
        for name, problem in problems.items():
            if name not in self._started:
                log.error("balancebot is unhealthy: %s", problem.message)
            self._started.setdefault(name, problem.since)
            for route in routes:
                due += self._step(name, route, problem, Severity.CRITICAL, now)
        for name, route in [k for k in self._states if k[0] not in problems]:
            gone = Problem(_("recovered"), self._started.get(name, now))
            due += self._step(name, route, gone, None, now)
        sent = await asyncio.gather(*(self.send(key[1], notice) for key, _s, notice in due))
        for (key, state, _notice), ok in zip(due, sent, strict=True):
            if ok and state.status is AlertStatus.FIRING:
                self._states[key] = state
            elif ok:
                self._states.pop(key, None)
        told = {name for name, _route in self._states}
        for name in [n for n in self._started if n not in problems and n not in told]:
            log.warning("balancebot recovered: %s", name)
            del self._started[name]
        return self._next(now, failed=not all(sent))

    def _step(
        self,
        name: str,
        route: RouteTarget,
        problem: Problem,
        severity: Severity | None,
        now: datetime,
    ) -> list[tuple[tuple[str, RouteTarget], AlertState, Notification]]:
        """The problem's alert for one route, advanced to `now`: the state to keep once its
        notice is sent, with the notice; nothing when nothing is due."""
        key = AlertKey(SELF_ACCOUNT, SELF_RULE, name)
        state = self._states.get((name, route), AlertState(key))
        finding = Finding(key, severity, severity, TroubleFacts(problem.message))
        state, transition = advance(state, finding, now, self._policy)
        if transition is None:
            return []
        return [((name, route), state, self._notification(transition, problem))]

    def _next(self, now: datetime, failed: bool) -> datetime | None:
        repeat = self._policy.repeat_interval
        moments = [s.last_notified_at + repeat for s in self._states.values() if s.last_notified_at]
        if failed:
            moments.append(now + self._retry)
        return min(moments, default=None)

    def _notification(self, transition: Transition, problem: Problem) -> Notification:
        name = transition.key.subject
        if transition.kind is Kind.RESOLVED:
            headline = _("RESOLVED: balancebot is healthy again ({problem})").format(problem=name)
            details: tuple[str, ...] = ()
        else:
            headline = f"{headline_label(transition)}: balancebot: {problem.message}"
            details = (_("Balance alerts may not go out until this is fixed."),)
        if self._replica is not None:
            details += (_("Replica: {name}").format(name=self._replica),)
        return Notification(
            transition.kind,
            Severity.CRITICAL,
            SELF_ACCOUNT,
            SELF_RULE,
            name,
            headline,
            details,
            transition.at,
            problem.since,
        )

    async def send(self, route: RouteTarget, notification: Notification) -> bool:
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
        log.info("self alert %s sent to %s", notification.kind.value, notifier)
        return True
