"""What a check sees while the store cannot be written.

A monitor should still tell people what it sees, not only that it is unwell: the alert
notices a check could not store are sent straight to their targets (as self alerts are),
their headline marked "(not recorded: store unavailable)". Muted and quiet-hours-held
notices are not: the self alert about the store goes out anyway.

No duplicate when the store comes back: the alert states the check could not write stay
in the pipeline's memory, so the next check sees the alert as already firing (and told),
and they are written with that account's next check that can be stored, together with
the notices sent unrecorded, as delivered: a later "(still)" or "(escalated)" then reads
as one to its readers, who were told the alert fired. A notice whose direct send fails is
not retried (its self alert still is). Silences are the last ones read when the store
cannot be read. With replicas, a replica reading the account from
the store keeps these states over the store's older ones.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from .errors import StoreError
from .i18n import N_, _
from .models import AlertKey, AlertState, Notification, RouteTarget, Silence
from .store import OutboxEntry, Store

log = logging.getLogger(__name__)

NOT_RECORDED = N_("(not recorded: store unavailable)")

Send = Callable[[RouteTarget, Notification], Awaitable[bool]]
"""Sends one notice to one target now; False (logged) when it could not."""


class Unrecorded:
    """A pipeline's alert states and notices that the store did not take."""

    def __init__(self) -> None:
        self.send: Send | None = None  # set by the daemon: the self alerts' direct send
        self._states: dict[str, dict[AlertKey, AlertState]] = {}  # per account
        self._told: dict[str, list[OutboxEntry]] = {}  # per account: sent, not yet recorded
        self._silences: list[Silence] = []  # the last read

    async def silences(self, store: Store, now: datetime) -> list[Silence]:
        """The active silences; the last ones read when the store cannot be read, so a
        check can still tell what it sees, and what was muted stays muted."""
        try:
            self._silences = await store.active_silences(now)
        except StoreError:
            return [s for s in self._silences if s.until > now]
        return self._silences

    def keep(self, account: str, states: Iterable[AlertState]) -> None:
        self._states.setdefault(account, {}).update((s.key, s) for s in states)

    def states(self, account: str) -> dict[AlertKey, AlertState]:
        return self._states.get(account, {})

    def with_kept(self, account: str, changed: list[AlertState]) -> list[AlertState]:
        """`changed`, plus the account's states a failed write left unwritten."""
        kept = self._states.get(account)
        if not kept:
            return changed
        return list({**kept, **{s.key: s for s in changed}}.values())

    def told(self, account: str) -> list[OutboxEntry]:
        """The notices sent unrecorded, for the next write of the account's check."""
        return self._told.get(account, [])

    def saved(self, account: str) -> None:
        self._states.pop(account, None)
        self._told.pop(account, None)

    async def tell(self, entries: list[OutboxEntry]) -> int:
        """Send the unmuted, unheld notices now; how many went out."""
        if self.send is None:
            return 0
        told = 0
        mark = _(NOT_RECORDED)
        for entry in entries:
            if entry.muted or entry.held_until is not None:
                continue
            notification = dataclasses.replace(
                entry.notification, headline=f"{entry.notification.headline} {mark}"
            )
            if await self.send((entry.notifier, entry.target), notification):
                told += 1
                kept = self._told.setdefault(entry.notification.account, [])
                kept.append(dataclasses.replace(entry, told=True))
        if told:
            log.warning("the store is unavailable: %d alert notice(s) sent unrecorded", told)
        return told
