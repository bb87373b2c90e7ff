"""The end of quiet hours: the notices they held back go out as one summary per target."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from .i18n import _
from .models import Notification, TransitionKind
from .render import local_time
from .store import Delivery, OutboxEntry, Store

log = logging.getLogger(__name__)


def summary(rows: list[Delivery], zone: tzinfo, now: datetime) -> Notification:
    """One message for one target: each held notice as a line, oldest first."""
    notices = [row.notification for row in rows]
    details = tuple(f"{local_time(n.at, zone)} {n.icon} {n.headline}".strip() for n in notices)
    return Notification(
        kind=TransitionKind.DIGEST,  # a summary: no mute buttons
        severity=max(n.severity for n in notices),
        account="",
        rule="quiet_hours",
        subject="",
        headline=_("Quiet hours are over: {count} notice(s) held").format(count=len(notices)),
        details=details,
        at=now,
        started_at=min(n.at for n in notices),
    )


async def send_quiet_summaries(store: Store, now: datetime, zone: tzinfo) -> int:
    """Queue a summary per target for quiet periods that have ended; how many."""
    held = await store.held_due(now)
    by_target: dict[tuple[str, str], list[Delivery]] = {}
    for row in held:
        by_target.setdefault((row.notifier, row.target), []).append(row)
    summaries = [
        OutboxEntry(notifier, target, summary(rows, zone, now))
        for (notifier, target), rows in by_target.items()
    ]
    if held:
        await store.summarize_held([row.id for row in held], summaries, now)
        log.info("quiet hours ended: %d held notice(s) in %d summaries", len(held), len(summaries))
    return len(summaries)
