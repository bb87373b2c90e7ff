"""Delivery: due outbox rows go to their notifiers; a row is marked delivered only after
the platform accepted it. Transient failures are retried with backoff (honouring the
platform's retry-after); permanent ones are logged loudly and kept as `failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from .clock import Clock
from .errors import DeliveryError
from .health import SelfAlerts
from .models import Notification
from .notifiers import Notifier
from .redact import SecretMask, secrets_in
from .retry import Backoff
from .store import Delivery, Store, leases

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger(__name__)

DELIVERY_BACKOFF = Backoff(initial=2.0, factor=2.0, cap=300.0, attempts=10)
STORE_RETRY = Backoff(initial=1.0, factor=2.0, cap=60.0, attempts=1000)
"""How often delivery looks at a store it could not read, until it can."""
PROBE_INTERVAL = timedelta(seconds=10)
"""How often the store is probed (file still there, server answering) between checks, so
trouble is told within seconds, not at the next check an hour later."""
PROBE_TIMEOUT = 3.0
"""A store that takes longer to answer a probe counts as unreachable (and SIGTERM waits
at most this long for it)."""
DELIVERY_LEASE = timedelta(seconds=45)
"""Longer than any notifier's own time limit for one send (renewed before each row), so a
live sender keeps it; short, so a dead replica's targets are sent to again soon."""
LEASE_POLL_SECONDS = 1.0


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
        self._idle = False
        self.problems: dict[str, str] = {}
        """Targets whose last delivery failed permanently, with why (for status)."""
        self._mask = SecretMask(s for n in notifiers.values() for s in secrets_in(n.options))
        self.health = store.health
        self.health.clock = clock
        # with replicas each tells its own trouble: the message says which one
        replica = self.owner if store.shared else None
        self.self_alerts = SelfAlerts(self.health, notifiers, clock, replica=replica)
        """Problems of balancebot itself, sent straight to the notifiers (no store)."""

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, sleeping until the next row is due or new ones arrive.

        Self alerts go first, and a store that cannot be read does not end delivery: it is
        tried again with backoff (the store has told `health`, which the self alerts send)."""
        store_failures = 0
        next_probe = self._clock.now()
        while not stop.is_set():
            self._wake.clear()
            self.health.changed.clear()
            if self._clock.now() >= next_probe:
                next_probe = self._clock.now() + PROBE_INTERVAL
                with contextlib.suppress(Exception):  # the store tells `health` itself
                    await self._store.ping(PROBE_TIMEOUT)
            moments = [await self.self_alerts.tell(), next_probe]
            try:
                await self.deliver_due()
                moments.append(await self._store.next_delivery_due())
                store_failures = 0
            except Exception as exc:  # the store, or a bug: never end delivery over it
                log.error(
                    "delivery could not use the store: %s",
                    self._mask.scrub(str(exc)),
                    exc_info=store_failures == 0,
                )
                delay = STORE_RETRY.delay(store_failures, self._rng)
                moments.append(self._clock.now() + timedelta(seconds=delay))
                store_failures += 1
            due = min((m for m in moments if m is not None), default=None)
            timeout = None if due is None else max(0.0, (due - self._clock.now()).total_seconds())
            if self._idle and timeout == 0.0:  # due rows another replica holds: look again soon
                timeout = LEASE_POLL_SECONDS
            waits = [
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.health.changed.wait()),
            ]
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits:
                    waiter.cancel()

    async def deliver_due(self) -> int:
        """Send every due row once; returns how many were delivered.

        Only the rows of targets whose lease this dispatcher wins: with several replicas on
        one store, each target is sent to by one of them at a time, in order."""
        due = await self._store.claim_deliveries(self._clock.now(), self.owner, DELIVERY_LEASE)
        queues: dict[tuple[str, str], list[Delivery]] = {}
        for delivery in due:
            queues.setdefault((delivery.notifier, delivery.target), []).append(delivery)
        try:
            counts = await asyncio.gather(
                *(self._deliver_in_order(rows) for rows in queues.values())
            )
        finally:
            if queues:
                await self._store.release_deliveries(queues, self.owner)
        self._idle = not due
        return sum(counts)

    async def _deliver_in_order(self, rows: list[Delivery]) -> int:
        """One target's rows in order; a transient failure holds back the rest behind it."""
        delivered = 0
        for index, delivery in enumerate(rows):
            if index:  # a long line of rows keeps the target's lease while it is sent
                target = (delivery.notifier, delivery.target)
                if not await self._store.renew_delivery(
                    target, self.owner, self._clock.now(), DELIVERY_LEASE
                ):
                    break  # another replica has the target now: it sends the rest
            attempts = delivery.attempts + 1
            started = time.perf_counter()
            try:
                await self._send(delivery)
            except DeliveryError as exc:
                await self._failed(delivery, attempts, exc)
                if not exc.permanent:
                    break
                continue
            await self._store.mark_delivered(delivery.id, self._clock.now())
            self.problems.pop(_where(delivery), None)
            delivered += 1
            self._count(delivery, "sent")
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info(
                "delivered %s to %s in %.0f ms",
                delivery.notification.kind.value,
                _where(delivery),
                elapsed_ms,
                extra={
                    "account": delivery.notification.account,
                    "notifier": _where(delivery),
                    "outcome": "sent",
                    "duration_ms": round(elapsed_ms),
                },
            )
            for listener in self.listeners:
                listener(delivery.notifier, delivery.notification)
        return delivered

    async def _send(self, delivery: Delivery) -> None:
        notifier = self._notifiers.get(delivery.notifier)
        if notifier is None:
            raise DeliveryError(
                f"notifier {delivery.notifier!r} is no longer configured", permanent=True
            )
        try:
            await notifier.send(delivery.notification, delivery.target)
        except DeliveryError:
            raise
        except Exception as exc:  # a notifier bug must not stop delivery to the others
            log.exception("notifier %s raised unexpectedly", delivery.notifier)
            raise DeliveryError(f"unexpected {type(exc).__name__}", permanent=False) from exc

    async def _failed(self, delivery: Delivery, attempts: int, exc: DeliveryError) -> None:
        where = _where(delivery)
        exc.message = self._mask.scrub(exc.message)
        permanent = exc.permanent or attempts >= self._backoff.attempts
        self._count(delivery, "failed" if permanent else "retried")
        if permanent:
            self.problems[where] = exc.message
            log.error(
                "delivery to %s failed permanently after %d attempt(s): %s",
                where,
                attempts,
                exc.message,
            )
            await self._store.mark_failed(delivery.id, attempts, exc.message)
            return
        delay = self._backoff.delay(attempts - 1, self._rng)
        if exc.retry_after is not None:
            delay = exc.retry_after  # the platform said exactly how long
        log.warning(
            "delivery to %s failed (attempt %d), retrying in %.1f s: %s",
            where,
            attempts,
            delay,
            exc.message,
        )
        retry_at = self._clock.now() + timedelta(seconds=delay)
        await self._store.mark_retry(delivery.id, attempts, retry_at, exc.message)

    def _count(self, delivery: Delivery, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.observe_delivery(delivery.notifier, outcome)


def _where(delivery: Delivery) -> str:
    return f"{delivery.notifier}:{delivery.target}" if delivery.target else delivery.notifier


async def close_all(notifiers: Mapping[str, Notifier]) -> None:
    for name, notifier in notifiers.items():
        try:
            await notifier.close()
        except Exception:  # one notifier's broken close must not keep the others open
            log.exception("closing notifier %s failed", name)
