"""Delivery: due outbox rows go to their notifiers; a row is marked delivered only after
the platform accepted it. Transient failures are retried with backoff (honouring the
platform's retry-after, up to an hour); permanent ones are logged loudly and kept as `failed`.

Each target (a notifier's chat, channel or URL) is a lane of its own, a task that sends its
rows in order, one at a time, each within the notifier's `timeout`: a slow or failing target
holds back its own queue and nothing else, and whatever goes wrong in a lane (a bug, the
store) stays in it. See `delivery_lanes.py` for what a lane does to a queue before sending it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from .clock import Clock
from .delivery_groups import prepared
from .delivery_lanes import (
    Lane,
    Liveness,
    first_of,
    guarded,
    retry_delay,
    send_deadline,
    send_within,
    stop_lanes,
    stuck_problem,
    where,
)
from .errors import DeliveryError
from .models import Notification
from .notifiers import Notifier
from .redact import SecretMask, secrets_in
from .retry import Backoff
from .self_alerts import SelfAlerts
from .store import Delivery, Store, leases

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger(__name__)

DELIVERY_BACKOFF = Backoff(initial=2.0, factor=2.0, cap=300.0, attempts=10)
STORE_RETRY = Backoff(initial=1.0, factor=2.0, cap=60.0, attempts=1000)
"""How often delivery looks at a store it could not read (or a lane whose store work
failed looks at its target again), until it can."""
PROBE_INTERVAL = timedelta(seconds=10)
"""How often the store is probed (file still there, server answering) between checks, so
trouble is told within seconds, not at the next check an hour later."""
PROBE_TIMEOUT = 3.0
"""A store that takes longer to answer a probe counts as unreachable (and SIGTERM waits
at most this long for it)."""
DELIVERY_LEASE = timedelta(seconds=45)
"""A lane's lease, renewed before each row: only what an owner whose death cannot be known
(see `store/leases.py`) keeps a target for after dying. At least a send's deadline longer."""
LEASE_POLL_SECONDS = 1.0
LANE_BATCH = 100
STOP_GRACE = 3.0
"""Seconds SIGTERM gives sends in flight to finish before abandoning them (they stay queued)."""
RELEASE_TIMEOUT = 2.0
"""Seconds a lane waits for the store to take its lease back (else it runs out, or its owner
is known dead): a stop is bounded whatever the store does."""


class Dispatcher:
    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        backoff: Backoff = DELIVERY_BACKOFF,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._notifiers = notifiers
        self._clock = clock
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._metrics = metrics
        self._wake = asyncio.Event()
        self.listeners: list[Callable[[str, Notification], None]] = []
        self.owner = owner or leases.new_owner()
        self.problems: dict[str, str] = {}
        """Targets whose last delivery failed permanently, with why (for status)."""
        self.notifiers_changed()
        self.health = store.health
        self.health.clock = clock
        # with replicas each tells its own trouble: the message says which one
        replica = self.owner if store.shared else None
        self.self_alerts = SelfAlerts(self.health, notifiers, clock, replica=replica)
        """Problems of balancebot itself, sent straight to the notifiers (no store)."""
        self.lanes: dict[leases.Target, Lane] = {}
        """The lanes sending now, by target."""
        self._resting: dict[leases.Target, float] = {}  # lanes that failed: not before (monotonic)
        self._lane_failures: dict[leases.Target, int] = {}
        self._unrecorded: dict[int, datetime] = {}  # sent, but the store did not record it
        self._failing: dict[str, datetime] = {}  # targets whose sends fail, since when
        self._stopping = False
        self.liveness = Liveness(store.url, self.owner) if store.shared else None
        """PostgreSQL: the lock that tells other replicas this one is alive (`run` holds it)."""
        self._need_liveness = False
        self.zone: tzinfo = UTC  # the times in grouped messages

    def notifiers_changed(self) -> None:
        """The notifiers (a mapping changed in place by a reload): their secrets, deadlines."""
        notifiers = self._notifiers
        self._mask = SecretMask(s for n in notifiers.values() for s in secrets_in(n.options))
        self._deadlines = {name: send_deadline(n) for name, n in notifiers.items()}
        longest = max(self._deadlines.values(), default=0.0)
        self.lease = max(DELIVERY_LEASE, timedelta(seconds=longest + 15))

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, starting a lane for each target with rows due, and
        sleeping until the next row is due or new ones arrive. Self alerts go out from a
        task of their own. A store that cannot be read does not end delivery: it is tried
        again with backoff (the store has told `health`, which the self alerts send)."""
        telling = asyncio.create_task(self._tell(stop), name="self alerts")
        alive = asyncio.Event()  # set once the lanes are stopped: the lock outlives them
        holding = None
        if self.liveness is not None:
            self._need_liveness = True
            self.liveness.on_change = self._liveness_changed
            holding = asyncio.create_task(self.liveness.run(alive), name="delivery liveness")
        try:
            await self._loop(stop)
        finally:
            self._stopping = True
            await stop_lanes(list(self.lanes.values()), STOP_GRACE, RELEASE_TIMEOUT + 0.5)
            telling.cancel()  # it had the lanes' grace to finish a self alert in hand
            alive.set()
            await asyncio.wait({telling}, timeout=RELEASE_TIMEOUT)
            if holding is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(holding, PROBE_TIMEOUT)

    async def _loop(self, stop: asyncio.Event) -> None:
        store_failures = 0
        next_probe = self._clock.now()
        while not stop.is_set():
            self._wake.clear()
            if self._clock.now() >= next_probe:
                next_probe = self._clock.now() + PROBE_INTERVAL
                with contextlib.suppress(Exception):  # the store tells `health` itself
                    await self._store.ping(PROBE_TIMEOUT)
            moments: list[datetime | None] = [next_probe, *self._rested()]
            try:
                await self._start_lanes()
                moments.append(await self._store.next_delivery_due())
                store_failures = 0
            except Exception as exc:  # the store, or a bug: never end delivery over it
                log.error(
                    "delivery could not use the store: %s",
                    self._mask.safe_message(str(exc)),
                    exc_info=store_failures == 0,
                )
                delay = STORE_RETRY.delay(store_failures, self._rng)
                moments.append(self._clock.now() + timedelta(seconds=delay))
                store_failures += 1
            due = min((m for m in moments if m is not None), default=None)
            timeout = None if due is None else max(0.0, (due - self._clock.now()).total_seconds())
            if timeout == 0.0:  # due rows a lane (which wakes us when done) or a replica holds
                timeout = LEASE_POLL_SECONDS
            await first_of(timeout, self._wake, stop)

    def _rested(self) -> list[datetime]:
        """When the resting lanes may start again, on the clock the loop's moments use."""
        now, mono = self._clock.now(), time.monotonic()
        return [now + timedelta(seconds=until - mono) for until in self._resting.values()]

    async def _tell(self, stop: asyncio.Event) -> None:
        """Self alerts, on their own: a slow notifier never holds back the lanes' start."""
        while not stop.is_set():
            self.health.changed.clear()
            try:
                due = await self.self_alerts.tell()
            except Exception:  # telling of trouble must never end delivery
                log.exception("self alerts could not be sent")
                due = self._clock.now() + timedelta(seconds=30)
            self.wake()  # the store may be back: the loop need not wait out its backoff
            timeout = None if due is None else max(0.0, (due - self._clock.now()).total_seconds())
            await first_of(timeout, self.health.changed, stop)

    async def _liveness_changed(self, held: bool) -> None:
        self.wake()

    def alive(self) -> bool:
        """Other replicas see this one alive (SQLite: the only one): it may claim work whose
        lease `owner_dead` voids (`SharedSweep` checks too), else they would take it at once."""
        return self.liveness is None or self.liveness.is_leader

    def _live(self) -> bool:
        """Other replicas can know whether this one is alive (or need not: SQLite)."""
        return not self._need_liveness or (self.liveness is not None and self.liveness.is_leader)

    async def _start_lanes(self) -> None:
        """A lane for each target with rows due whose lease this dispatcher wins."""
        if not self._live() or self._stopping:
            return
        now = self._clock.now()
        for target in [t for t, until in self._resting.items() if until <= time.monotonic()]:
            del self._resting[target]
        due = await self._store.due_targets(now) - self.lanes.keys() - self._resting.keys()
        if due:
            for target in sorted(await self._store.claim_targets(due, self.owner, now, self.lease)):
                self._open(target)

    def _open(self, target: leases.Target, rows: list[Delivery] | None = None) -> Lane:
        lane = Lane(target)
        lane.task = asyncio.create_task(self._lane(lane, rows), name=f"delivery to {target}")
        self.lanes[target] = lane
        return lane

    async def deliver_due(self) -> int:
        """Send every due row once (at most `LANE_BATCH`), each target in a lane of its own,
        and wait for them; returns how many were delivered (`run` does not wait: it starts
        lanes as rows come due). With replicas, each target is sent to by one at a time."""
        due = await self._store.claim_deliveries(self._clock.now(), self.owner, self.lease)
        queues: dict[leases.Target, list[Delivery]] = {}
        for row in due:
            if (row.notifier, row.target) not in self.lanes:
                queues.setdefault((row.notifier, row.target), []).append(row)
        lanes = [self._open(target, rows) for target, rows in queues.items()]
        return sum([await lane.task for lane in lanes if lane.task is not None])

    async def _lane(self, lane: Lane, rows: list[Delivery] | None) -> int:
        """One target's rows in order: those given, or until none is due. Nothing escapes:
        a failure here rests this target for a while and touches no other."""
        delivered = 0
        once = rows is not None
        try:
            while not self._stopping:
                if rows is None:
                    now = self._clock.now()
                    rows = await self._store.due_deliveries(now, LANE_BATCH, only=[lane.target])
                notifier = self._notifiers.get(lane.target[0])
                merge = notifier is None or notifier.merges_groups
                rows = await prepared(self._store, rows, self.zone, merge)
                if not rows:
                    break
                sent, held_back = await self._deliver_in_order(lane, rows)
                delivered += sent
                if once or held_back:
                    break
                rows = None
            self._lane_failures.pop(lane.target, None)
        except Exception as exc:  # the store, or a bug: this target waits, no other does
            failures = self._lane_failures.get(lane.target, 0)
            self._lane_failures[lane.target] = failures + 1
            delay = STORE_RETRY.delay(failures, self._rng)
            self._resting[lane.target] = time.monotonic() + delay
            log.error(
                "delivery to %s stopped: %s; trying it again in %.0f s",
                where(*lane.target),
                self._mask.safe_message(str(exc) or type(exc).__name__),
                delay,
                exc_info=failures == 0,
            )
        finally:
            lane.sending = None
            with contextlib.suppress(Exception):  # else it runs out, or its owner is known dead
                async with asyncio.timeout(RELEASE_TIMEOUT):
                    await self._store.release_deliveries([lane.target], self.owner)
            if self.lanes.get(lane.target) is lane:
                del self.lanes[lane.target]
            self.wake()  # rows may have come for this target while it was busy
        return delivered

    async def _deliver_in_order(self, lane: Lane, rows: list[Delivery]) -> tuple[int, bool]:
        """How many were delivered, and whether the rest is held back (a transient failure
        waits for its retry; a lost lease or a stop leaves the rest to the next lane)."""
        delivered = 0
        for index, delivery in enumerate(rows):
            if self._stopping or not self._live():
                return delivered, True
            if index and not await self._store.renew_delivery(
                lane.target, self.owner, self._clock.now(), self.lease
            ):
                return delivered, True  # another replica has the target now: it sends the rest
            if delivery.id in self._unrecorded:  # sent before the store failed: record it only
                await self._store.mark_delivered(delivery.ids, self._unrecorded.pop(delivery.id))
                continue
            attempts = delivery.attempts + 1
            lane.sending, lane.since = delivery, 0.0
            try:
                if not await self._turn(lane, delivery):
                    return delivered, True
                lane.since = time.monotonic()
                await self._send(delivery)
            except DeliveryError as exc:
                lane.sending = None
                if not await self._failed(delivery, attempts, exc):
                    return delivered, True
                continue
            lane.sending = None
            await self._delivered(delivery, time.monotonic() - lane.since)
            delivered += 1
        return delivered, False

    async def _turn(self, lane: Lane, delivery: Delivery) -> bool:
        """Wait for the platform's pacing slot (`Notifier.slot`) before the send's deadline
        starts; after a long wait, renew the lease: False if another replica has it now."""
        notifier = self._notifiers.get(delivery.notifier)
        if notifier is None:
            return True  # `_send` says so
        started = time.monotonic()
        await guarded(notifier, notifier.slot(delivery.target))
        if time.monotonic() - started < LEASE_POLL_SECONDS:
            return True
        return await self._store.renew_delivery(
            lane.target, self.owner, self._clock.now(), self.lease
        )

    async def _send(self, delivery: Delivery) -> None:
        notifier = self._notifiers.get(delivery.notifier)
        if notifier is None:
            raise DeliveryError(
                f"notifier {delivery.notifier!r} is no longer configured", permanent=True
            )
        deadline = self._deadlines[delivery.notifier]
        await send_within(notifier, delivery.notification, delivery.target, deadline)

    async def _delivered(self, delivery: Delivery, elapsed: float) -> None:
        now = self._clock.now()
        self._unrecorded[delivery.id] = now  # until the store has it: never sent twice by us
        await self._store.mark_delivered(delivery.ids, now)
        del self._unrecorded[delivery.id]
        self.problems.pop(where(delivery.notifier, delivery.target), None)
        self._recovered(where(delivery.notifier, delivery.target))
        self._count(delivery, "sent")
        log.info(
            "delivered %s to %s in %.0f ms",
            delivery.notification.kind.value,
            where(delivery.notifier, delivery.target),
            elapsed * 1000,
            extra={
                "account": delivery.notification.account,
                "notifier": where(delivery.notifier, delivery.target),
                "outcome": "sent",
                "duration_ms": round(elapsed * 1000),
            },
        )
        for listener in self.listeners:
            listener(delivery.notifier, delivery.notification)

    async def _failed(self, delivery: Delivery, attempts: int, exc: DeliveryError) -> bool:
        """Record a failed send; True if it was final (the rows behind it may go on)."""
        target = where(delivery.notifier, delivery.target)
        message = self._mask.safe_message(exc.message)
        permanent = exc.permanent or attempts >= self._backoff.attempts
        self._count(delivery, "failed" if permanent else "retried")
        if permanent:
            self.problems[target] = message
            self._recovered(target)  # not stuck: failed, and said so
            log.error(
                "delivery to %s failed permanently after %d attempt(s): %s",
                target,
                attempts,
                message,
            )
            await self._store.mark_failed(delivery.ids, attempts, message)
            return True
        delay = retry_delay(exc.retry_after, self._backoff.delay(attempts - 1, self._rng))
        log.warning(
            "delivery to %s failed (attempt %d), retrying in %.1f s: %s",
            target,
            attempts,
            delay,
            message,
        )
        now = self._clock.now()
        stuck = stuck_problem(target, self._failing.setdefault(target, now), now, message)
        if stuck is not None:
            self.health.report(f"delivery:{target}", stuck)
        await self._store.mark_retry(
            delivery.ids, attempts, now + timedelta(seconds=delay), message
        )
        return False

    def _recovered(self, target: str) -> None:
        self._failing.pop(target, None)
        self.health.clear(f"delivery:{target}")

    def _count(self, delivery: Delivery, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.observe_delivery(delivery.notifier, outcome)
