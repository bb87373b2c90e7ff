"""What happens when a silence ends.

Alertmanager's behaviour on silence expiry: every alert still firing whose routes were
never told about it (each of their notices since it started was muted, or all but ones
of a lower severity than it has now) is sent at once,
instead of waiting for the next repeat. One idempotent pass, run after /unmute, a button,
`balancebot silences expire`, and on a timer for mutes that simply ran out; once a route
has a notice that was not muted, it is never sent again by this pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from .clock import Clock
from .config import Config
from .errors import StoreError
from .models import AlertStatus, TransitionKind
from .notify import inhibition, labels_of, released
from .quiet_summary import send_quiet_summaries
from .render import first_notice
from .store import OutboxEntry, OutboxStatus, SentRow, Store

log = logging.getLogger(__name__)


class RemembersTold(Protocol):
    """The part of the check pipeline a release needs: its memory of told routes."""

    def remember_told(self, entries: list[OutboxEntry]) -> None: ...


RELEASE_INTERVAL = timedelta(seconds=30)
"""How late, at most, an expired mute's held-back alerts go out (or one made by the CLI)."""


async def release_unmuted(
    store: Store,
    now: datetime,
    remember: Callable[[list[OutboxEntry]], None],
    config: Config | None = None,
) -> int:
    """Queue the latest muted notice for each route of each unmuted firing alert that was
    never told about it at its current severity; returns how many were queued. `remember`
    is the pipeline's memory of told routes (its resolved notices go there). With `config`,
    an alert its `[[inhibit]]` rules still keep quiet stays unsent, and the released ones go
    through the routes' grouping and quiet hours as a check's would (a group muted as one
    is released as one message)."""
    silences = await store.active_silences(now)
    entries: list[OutboxEntry] = []
    states = await store.alert_states()
    inhibited = inhibition(config, states) if config is not None else None
    for key, state in sorted(states.items()):
        if state.status is not AlertStatus.FIRING or state.started_at is None:
            continue
        assert state.severity is not None
        labels = labels_of(config, key, state.severity) if config is not None else None
        if any(s.mutes(TransitionKind.REPEAT, key, state.severity, now, labels) for s in silences):
            continue  # still muted
        if inhibited is not None and inhibited(key, state.severity):
            continue  # its source still fires
        routes: dict[tuple[str, str], list[SentRow]] = {}
        for row in await store.alert_rows(key.account, key.rule, state.started_at):
            if row.notification.subject == key.subject:
                routes.setdefault((row.notifier, row.target), []).append(row)
        for (notifier, target), rows in routes.items():
            told = any(
                row.status != OutboxStatus.MUTED and row.notification.severity >= state.severity
                for row in rows
            )
            if not told:  # never, or only of a lower severity than it has now
                latest = [row for row in rows if row.status == OutboxStatus.MUTED][-1].notification
                if latest.kind is TransitionKind.REPEAT:  # an escalation they may know part of
                    latest = first_notice(latest)
                entries.append(
                    released(latest, notifier, target, config, now)
                    if config is not None
                    else OutboxEntry(notifier, target, latest)
                )
    if entries:
        await store.enqueue(entries, now)
        remember(entries)
        log.info("a mute ended: %d held-back alert notice(s) queued", len(entries))
    return len(entries)


async def release_loop(
    pipeline: RemembersTold,
    store: Store,
    clock: Clock,
    zone: tzinfo,
    wake: Callable[[], None],
    stop: asyncio.Event,
    leading: Callable[[], bool] = lambda: True,
    config: Callable[[], Config] | None = None,
) -> None:
    """In the daemon, release what ended mutes and ended quiet hours held back: a pass when
    the next mute or quiet period ends (at most `RELEASE_INTERVAL` apart, for mutes another
    process ended early); a failed pass is logged and tried again. With replicas, only the
    leader does it."""
    while not stop.is_set():
        wait = RELEASE_INTERVAL
        try:
            if leading():
                current = config() if config is not None else None  # SIGHUP may replace it
                await release_unmuted(store, clock.now(), pipeline.remember_told, current)
                await send_quiet_summaries(store, clock.now(), zone)
                wake()
                wait = await until_next_end(store, clock)
        except StoreError as exc:  # says its cause: one line each pass, no traceback
            log.error("releasing alerts after a mute ended failed; trying again: %s", exc)
        except Exception:
            log.exception("releasing alerts after a mute ended failed; trying again")
        with contextlib.suppress(TimeoutError):  # real seconds, as the dispatcher waits
            await asyncio.wait_for(stop.wait(), wait.total_seconds())


async def until_next_end(store: Store, clock: Clock) -> timedelta:
    """How long until the next mute runs out or the next quiet period ends (then there may
    be something to release), at most `RELEASE_INTERVAL`."""
    now = clock.now()
    ends = [s.until for s in await store.active_silences(now)]
    held = await store.next_held_due()
    ends += [held] if held is not None else []
    soonest = min(ends, default=now + RELEASE_INTERVAL) - now
    return max(timedelta(seconds=1), min(soonest, RELEASE_INTERVAL))
