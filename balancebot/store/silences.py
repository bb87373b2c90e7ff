"""What chat users and the CLI leave in the store: silences (mutes), and the signed Slack
requests already answered (so a replay is refused across restarts)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..labels import Matcher
from ..models import (
    AlertKey,
    Silence,
)
from .base import StoreBase
from .codec import matches_null, new_id
from .schema import (
    alert_states,
    seen_requests,
    silence_bindings,
    silence_comments,
    silence_matchers,
    silences,
)


def _bound(key: AlertKey, now: datetime) -> sa.Select[Any]:
    """The active mutes set from this alert's buttons, with their comments and bindings."""
    return (
        sa.select(
            silences.c.id,
            silences.c.until,
            silences.c.created_by,
            silences.c.created_at,
            silence_comments.c.comment,
            silence_bindings.c.until_resolved,
        )
        .join(silence_bindings, silence_bindings.c.silence_id == silences.c.id)
        .outerjoin(silence_comments, silence_comments.c.silence_id == silences.c.id)
        .where(
            silences.c.until > now,
            silences.c.account == key.account,
            silences.c.rule == key.rule,
            silence_bindings.c.subject == key.subject,
        )
    )


class SilenceRecords(StoreBase):
    async def add_silence(
        self,
        account: str | None,
        rule: str | None,
        until: datetime,
        created_by: str,
        now: datetime,
        comment: str = "",
        subject: str | None = None,
        until_resolved: bool = False,
        matchers: tuple[Matcher, ...] = (),
    ) -> Silence:
        """`subject` binds the mute to one alert key (account and rule must be set too);
        `matchers` mute by labels, besides the account and rule."""
        if (subject is not None or until_resolved) and (account is None or rule is None):
            raise ValueError("a silence bound to an alert names its account, rule and subject")
        async with self._writing() as conn:
            made = await self._insert(
                conn, account, rule, until, created_by, now, comment, subject, until_resolved
            )
            if matchers:
                await conn.execute(
                    silence_matchers.insert(),
                    [
                        {"silence_id": made.id, "position": i, "name": m.name}
                        | {"op": m.op.value, "value": m.value}
                        for i, m in enumerate(matchers)
                    ],
                )
        return replace(made, matchers=matchers)

    @staticmethod
    async def _insert(
        conn: AsyncConnection,
        account: str | None,
        rule: str | None,
        until: datetime,
        created_by: str,
        now: datetime,
        comment: str,
        subject: str | None,
        until_resolved: bool,
    ) -> Silence:
        inserted = await conn.execute(
            silences.insert().values(
                account=account, rule=rule, until=until, created_by=created_by, created_at=now
            )
        )
        silence_id = new_id(inserted)
        if comment:
            await conn.execute(
                silence_comments.insert().values(silence_id=silence_id, comment=comment)
            )
        if subject is not None:
            await conn.execute(
                silence_bindings.insert().values(
                    silence_id=silence_id, subject=subject, until_resolved=until_resolved
                )
            )
        return Silence(
            silence_id, account, rule, until, created_by, now, comment, subject, until_resolved
        )

    async def mute_alert(
        self, key: AlertKey, until: datetime, created_by: str, now: datetime, until_resolved: bool
    ) -> tuple[Silence, bool]:
        """A button's mute: the alert's one button mute, made, extended to `until` (never
        shortened), or turned into an until-resolved one; True when it was made. One write
        transaction that first locks the alert's state row, so two clicks at once (on any
        replica) cannot both make one."""
        async with self._writing() as conn:
            await conn.execute(
                sa.select(alert_states.c.status)
                .where(
                    alert_states.c.account == key.account,
                    alert_states.c.rule == key.rule,
                    alert_states.c.subject == key.subject,
                )
                .with_for_update()
            )
            rows = (await conn.execute(_bound(key, now).order_by(silences.c.id))).all()
            if not rows:
                made = await self._insert(
                    conn,
                    key.account,
                    key.rule,
                    until,
                    created_by,
                    now,
                    "",
                    key.subject,
                    until_resolved,
                )
                return made, True
            row = rows[0]
            until = max(until, row.until)
            until_resolved = until_resolved or bool(row.until_resolved)
            await conn.execute(silences.update().where(silences.c.id == row.id).values(until=until))
            await conn.execute(
                silence_bindings.update()
                .where(silence_bindings.c.silence_id == row.id)
                .values(until_resolved=until_resolved)
            )
        return Silence(
            row.id,
            key.account,
            key.rule,
            until,
            row.created_by,
            row.created_at,
            row.comment or "",
            key.subject,
            until_resolved,
        ), False

    async def unmute_alert(self, silence_id: int, now: datetime) -> tuple[AlertKey, int] | None:
        """End every button mute of the alert the (button) silence `silence_id` was set on,
        ended already or not; the alert and how many ended, None if it is not a button's."""
        async with self._writing() as conn:
            found = (
                await conn.execute(
                    sa.select(silences.c.account, silences.c.rule, silence_bindings.c.subject)
                    .join(silence_bindings, silence_bindings.c.silence_id == silences.c.id)
                    .where(silences.c.id == silence_id)
                )
            ).first()
            if found is None:
                return None
            key = AlertKey(found.account, found.rule, found.subject)
            ids = sa.select(_bound(key, now).subquery().c.id)
            result = await conn.execute(
                silences.update().where(silences.c.id.in_(ids)).values(until=now)
            )
        return key, result.rowcount

    async def end_silences(self, account: str | None, rule: str | None, now: datetime) -> int:
        """End the active silences for exactly this account/rule pair; how many ended.
        Ending an account's mute also ends the mutes set from its alerts' buttons."""
        labelled = sa.select(silence_matchers.c.silence_id)
        exact = sa.and_(
            matches_null(silences.c.account, account),
            matches_null(silences.c.rule, rule),
            silences.c.id.not_in(labelled),  # a mute by labels is ended by its id
        )
        if account is not None and rule is None:
            bound = sa.select(silence_bindings.c.silence_id)
            exact = sa.or_(exact, sa.and_(silences.c.account == account, silences.c.id.in_(bound)))
        async with self._writing() as conn:
            result = await conn.execute(
                silences.update().where(silences.c.until > now, exact).values(until=now)
            )
        return result.rowcount

    async def end_resolved_silences(self, key: AlertKey, now: datetime) -> int:
        """End the until-resolved mutes bound to an alert that has just resolved."""
        bound = sa.select(silence_bindings.c.silence_id).where(
            silence_bindings.c.subject == key.subject, silence_bindings.c.until_resolved
        )
        async with self._writing() as conn:
            result = await conn.execute(
                silences.update()
                .where(
                    silences.c.until > now,
                    silences.c.account == key.account,
                    silences.c.rule == key.rule,
                    silences.c.id.in_(bound),
                )
                .values(until=now)
            )
        return result.rowcount

    async def active_silences(self, now: datetime) -> list[Silence]:
        async with self._reading() as conn:
            rows = await conn.execute(
                sa.select(
                    silences,
                    silence_comments.c.comment,
                    silence_bindings.c.subject,
                    silence_bindings.c.until_resolved,
                )
                .outerjoin(silence_comments, silence_comments.c.silence_id == silences.c.id)
                .outerjoin(silence_bindings, silence_bindings.c.silence_id == silences.c.id)
                .where(silences.c.until > now)
                .order_by(silences.c.id)
            )
            matchers = await self._matchers(conn, now)
            return [
                Silence(
                    r.id,
                    r.account,
                    r.rule,
                    r.until,
                    r.created_by,
                    r.created_at,
                    r.comment or "",
                    r.subject,
                    bool(r.until_resolved),
                    tuple(matchers.get(r.id, ())),
                )
                for r in rows
            ]

    @staticmethod
    async def _matchers(conn: AsyncConnection, now: datetime) -> dict[int, list[Matcher]]:
        """The matchers of each active silence that has any, in order."""
        rows = await conn.execute(
            sa.select(silence_matchers)
            .join(silences, silences.c.id == silence_matchers.c.silence_id)
            .where(silences.c.until > now)
            .order_by(silence_matchers.c.silence_id, silence_matchers.c.position)
        )
        found: dict[int, list[Matcher]] = {}
        for r in rows:
            found.setdefault(r.silence_id, []).append(Matcher.of(r.name, r.op, r.value))
        return found

    async def end_silence(self, silence_id: int, now: datetime) -> bool:
        """End one active silence by id (`balancebot silences expire`); False if none."""
        async with self._writing() as conn:
            result = await conn.execute(
                silences.update()
                .where(silences.c.id == silence_id, silences.c.until > now)
                .values(until=now)
            )
        return result.rowcount > 0

    async def first_seen(self, request_id: str, expires_at: datetime, now: datetime) -> bool:
        """True the first time a signed request is seen before `expires_at`, False for a
        replay: kept in the store, so a restart forgets nothing. Expired ones are pruned."""
        digest = hashlib.sha256(request_id.encode("utf-8", "backslashreplace")).hexdigest()
        try:
            async with self._writing() as conn:
                await conn.execute(seen_requests.delete().where(seen_requests.c.expires_at < now))
                await conn.execute(
                    seen_requests.insert().values(digest=digest, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True
