"""What a delivery lane (one target's queue, see `delivery.py`) decides on its own: how long a
send may take, how long to wait before a retry, what of its queue to send, and when it is
stuck; and the lock that tells other replicas its owner is alive."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .deadline import within
from .errors import DeliveryError
from .leader import Leadership
from .models import Notification
from .notifiers import Notifier
from .render import first_notice, human_duration
from .retry import RETRY_AFTER_CAP
from .store import FIRING_KINDS, Delivery, OutboxStatus, Store, leases

log = logging.getLogger(__name__)

SEND_DEADLINE = 30.0
"""Seconds a whole send may take with a notifier that has no `timeout` option."""
STUCK_AFTER = timedelta(minutes=5)
"""A target whose sends have failed (transiently) for this long is stuck: said in `/readyz`
and as a self alert on the other targets, until it delivers again."""
SEEN = (OutboxStatus.DELIVERED, OutboxStatus.SUMMARIZED)
SHOWN = 5
"""Targets a stop names in its one line for the lanes it abandoned while they waited."""


@dataclass
class Lane:
    """One target being sent to: its task, and the send in hand (for a stop to name)."""

    target: leases.Target
    task: asyncio.Task[int] | None = None
    sending: Delivery | None = None
    since: float = 0.0  # time.monotonic() when the send in hand began (0: pacing still)


def where(notifier: str, target: str) -> str:
    return f"{notifier}:{target}" if target else notifier


def send_deadline(notifier: Notifier) -> float:
    """The notifier's `timeout` bounds its whole send (connect, request and answer), not
    each read: a receiver dripping a byte at a time cannot hold a lane for longer."""
    timeout = getattr(notifier.options, "timeout", None)
    if isinstance(timeout, timedelta) and timeout > timedelta(0):
        return timeout.total_seconds()
    return SEND_DEADLINE


async def guarded(notifier: Notifier, step: Awaitable[None]) -> None:
    """A notifier's `slot` or `send`; whatever else it raises becomes a transient
    `DeliveryError`, logged as its bug: a `CancelledError` nobody asked for (else the lane
    ended, the row unmarked, and it was sent again at once, forever), `SystemExit` and
    `KeyboardInterrupt` (which asyncio lets out of the event loop: the daemon died)."""
    try:
        await step
    except (DeliveryError, TimeoutError):
        raise
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # asked for: a deadline passed, or delivery stops
        raise _unexpected(notifier, exc) from exc
    except GeneratorExit as exc:
        if not _loop_running():  # the coroutine closed after the loop: a send left at exit
            raise
        raise _unexpected(notifier, exc) from exc
    except BaseException as exc:  # a notifier bug must not stop delivery to the others
        raise _unexpected(notifier, exc) from exc


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _unexpected(notifier: Notifier, exc: BaseException) -> DeliveryError:
    log.error("notifier %s raised unexpectedly", notifier.name, exc_info=exc)
    return DeliveryError(f"unexpected {type(exc).__name__}", permanent=False)


async def send_within(
    notifier: Notifier, notification: Notification, target: str, deadline: float
) -> None:
    """The whole send (connect, request, answer) within `deadline` seconds, even when the
    notifier ignores its cancellation (`deadline.within` then leaves it running)."""
    name = f"send to {where(notifier.name, target)}"
    try:
        await within(guarded(notifier, notifier.send(notification, target)), deadline, name)
    except TimeoutError:
        raise DeliveryError(f"no complete answer within {deadline:g} s", permanent=False) from None


def retry_delay(retry_after: object, backoff: float) -> float:
    """Seconds until the retry: the platform's word when it is a number, else the backoff;
    never below 0 nor above an hour (a time the clock cannot hold never comes)."""
    wait: float | int = backoff
    if isinstance(retry_after, int | float) and retry_after == retry_after:  # not NaN
        wait = retry_after
    return float(min(max(wait, 0.0), RETRY_AFTER_CAP))


def alert_of(notification: Notification) -> tuple[str, str, str, datetime] | None:
    """An alert's notices share this (one firing period of one alert); others have none."""
    if notification.kind not in FIRING_KINDS:
        return None
    n = notification
    return (n.account, n.rule, n.subject, n.started_at)


def collapse(rows: list[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
    """One target's queue: of several notices of one alert (a firing and the repeats that
    queued behind it while the target was down) only the latest is sent, in its place;
    resolved notices and others all stay. Returns (to send, replaced)."""
    latest = {alert_of(row.notification): row.id for row in rows}
    keep: list[Delivery] = []
    replaced: list[Delivery] = []
    for row in rows:
        alert = alert_of(row.notification)
        (replaced if alert is not None and latest[alert] != row.id else keep).append(row)
    return keep, replaced


async def told_first(store: Store, row: Delivery) -> Delivery:
    """`row`, or a "(still)" or "(escalated)" notice as a first one when this target never
    saw the alert fire in this period (its notices were muted, or replaced in the queue)."""
    first = first_notice(row.notification)
    if first is row.notification:
        return row
    n = row.notification
    seen = await store.alert_rows(n.account, n.rule, n.started_at)
    if any(
        (r.notifier, r.target) == (row.notifier, row.target)
        and r.notification.subject == n.subject
        and r.status in SEEN
        for r in seen
    ):
        return row
    return dataclasses.replace(row, notification=first)


def stuck_problem(target: str, failing_since: datetime, now: datetime, error: str) -> str | None:
    """What `/readyz` says of a target whose sends have failed for too long, or None."""
    failing = now - failing_since
    if failing < STUCK_AFTER:
        return None
    return (
        f"delivery to {target} is stuck: its sends have failed for {human_duration(failing)} "
        f"(last error: {error})"
    )


async def stop_lanes(lanes: list[Lane], grace: float, cancelled: float) -> None:
    """Lanes finish the send in hand within `grace` seconds; the rest is abandoned (it
    stays queued, and goes out after a restart or from another replica), and said so."""
    tasks = {lane.task for lane in lanes if lane.task is not None}
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace)
    waiting: list[str] = []  # for a pacing slot, or the store: one line for all of them
    for lane in lanes:
        if lane.task is None or lane.task not in pending:
            continue
        if lane.sending is not None and lane.since:
            log.warning(
                "stopping: abandoned the send to %s after %.1f s without a complete answer; "
                "it stays queued and goes out after the restart (twice, if the receiver did "
                "get it)",
                where(*lane.target),
                time.monotonic() - lane.since,
            )
        else:
            waiting.append(where(*lane.target))
        lane.task.cancel()
    if waiting:
        shown = ", ".join(waiting[:SHOWN]) + (", …" if len(waiting) > SHOWN else "")
        log.warning(
            "stopping: abandoned delivery to %d target(s) waiting their turn under a rate "
            "limit or for the store (%s); what they had not sent stays queued",
            len(waiting),
            shown,
        )
    if pending:
        await asyncio.wait(pending, timeout=cancelled)


async def first_of(seconds: float | None, *events: asyncio.Event) -> None:
    """Until one of `events` is set, or `seconds` pass (None: no limit)."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()


class Liveness(Leadership):
    """PostgreSQL: the session lock named after this dispatcher's lease owner, held on a
    connection of its own while the process lives. The server frees it the moment the
    process dies (or, cut off, within seconds): other replicas then take over its targets
    at once instead of waiting out its leases."""

    role = "delivery liveness"
    won = "other replicas can see this one is alive"
    lost = "the liveness lock was lost; this replica's delivery targets may be taken over"

    def __init__(self, url: str, owner: str) -> None:
        super().__init__(url, key=leases.liveness_key(owner))
        self._stop: asyncio.Event | None = None

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        await super().run(stop)

    async def _step_down(self) -> None:
        if self.is_leader and self._stop is not None and self._stop.is_set():
            self.is_leader = False  # let go on purpose, at a stop: nothing to warn about
            self.elected.clear()
            await self._notify(False)
            return
        await super()._step_down()
