"""Grouped messages in a delivery lane: a due row that belongs to a group (a route's
`group_by`) goes out with every other pending row of its group to the same target, as one
message (`notify/grouped.py`), and all of them are marked with what became of it.

The rows are the record, so a group survives a restart: a row waits (`next_attempt_at`)
until its group's message is due, `group_wait` after the group's first row, or
`group_interval` after the group's last message (`store/outbox.py`)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import tzinfo

from .delivery_lanes import collapse, told_first, where
from .notify import grouped
from .store import Delivery, Store

log = logging.getLogger(__name__)


async def prepared(
    store: Store, rows: list[Delivery], zone: tzinfo, merge: bool = True
) -> list[Delivery]:
    """What a lane sends of its due rows: notices of one alert queued together go out as
    the latest only, a group's rows as one message (unless the notifier groups alerts
    itself: `merge` False), and a "(still)" notice whose reader was never told the alert
    fired reads as its first."""
    rows, replaced = collapse(rows)
    if replaced:
        await store.supersede([row.id for row in replaced])
        log.info(
            "%d queued notice(s) to %s replaced by a later one of the same alert",
            len(replaced),
            where(replaced[0].notifier, replaced[0].target),
        )
    if merge:
        rows = await gathered(store, rows, zone)
    return [await told_first(store, row) for row in rows]


async def gathered(store: Store, rows: list[Delivery], zone: tzinfo) -> list[Delivery]:
    """One target's due rows with each group's rows as one delivery, in the place of the
    group's first due row (a group whose rows were all sent elsewhere meanwhile is gone)."""
    keys = {row.group for row in rows if row.group is not None}
    if not keys:
        return rows
    members = await store.group_rows((rows[0].notifier, rows[0].target), keys)
    out: list[Delivery] = []
    for row in rows:
        if row.group is None:
            out.append(row)
        elif row.group in keys:
            keys.discard(row.group)
            group = members.get(row.group, [])
            if group:
                out.append(_merged(group, zone))
    return out


def _merged(group: list[Delivery], zone: tzinfo) -> Delivery:
    first = group[0]
    notification = grouped([member.notification for member in group], zone)
    if notification not in [member.notification for member in group]:  # several alerts
        notification = dataclasses.replace(notification, group=first.group or "")
    attempts = max(member.attempts for member in group)
    return dataclasses.replace(
        first, notification=notification, attempts=attempts, members=tuple(group)
    )
