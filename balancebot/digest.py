"""The daily digest: per route, balances, spend over 24 hours and 7 days, alerts fired,
and days of balance left at the current rate. Delivered through the outbox like alerts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from .config import Config
from .i18n import _
from .models import Notification, Severity, TransitionKind
from .spend import NotEnoughHistory, Runway, money, runway, spent
from .store import OutboxEntry, Store
from .trends import runway_settings

DIGEST_RULE = "digest"  # what routes match; a route with `rules` must list it
WEEK = timedelta(days=7)
DAY = timedelta(days=1)


async def account_lines(store: Store, account: str, now: datetime, config: Config) -> list[str]:
    window, min_history = runway_settings(config.rules_for(account))
    history = await store.history(account, now - max(WEEK, window))
    lines = []
    latest = history[-1] if history else None
    if latest is None:
        lines.append(_("{account}: no successful check in the last 7 days").format(account=account))
    for currency, balance in latest.balances.items() if latest else ():
        left = runway(history, currency, now, window, min_history)
        lines.append(
            _("{account} {currency}: {total} — spent {day} in 24h, {week} in 7 days").format(
                account=account,
                currency=currency,
                total=money(balance.total),
                day=money(spent(history, currency, now - DAY)),
                week=money(spent(history, currency, now - WEEK)),
            )
            + " — "
            + runway_words(left)
        )
    if latest is not None and not latest.balances:
        lines.append(_("{account}: no balances reported").format(account=account))
    if latest is not None and not latest.is_available:
        lines.append(_("{account}: cannot make API calls").format(account=account))
    fired = await store.alerts_fired(account, now - DAY)
    lines.append(_("{account}: alerts fired in 24h: {count}").format(account=account, count=fired))
    return lines


async def build_digest(
    config: Config, store: Store, targets: Mapping[str, list[str]], now: datetime
) -> list[OutboxEntry]:
    """One digest per notifier, covering the accounts routed to it, one row per target."""
    zone = config.zone
    lines_of: dict[str, list[str]] = {}
    entries = []
    for notifier in config.notifiers:
        accounts = [
            a.name
            for a in config.accounts
            if notifier.name in config.route(a.name, DIGEST_RULE, Severity.INFO)
        ]
        if not accounts:
            continue
        details: list[str] = []
        for account in accounts:
            if account not in lines_of:
                lines_of[account] = await account_lines(store, account, now, config)
            details += lines_of[account]
        notification = Notification(
            kind=TransitionKind.DIGEST,
            severity=Severity.INFO,
            account=",".join(accounts),
            rule=DIGEST_RULE,
            subject="",
            headline=_("Daily balance digest for {date}").format(
                date=now.astimezone(zone).strftime("%Y-%m-%d")
            ),
            details=tuple(details),
            at=now,
            started_at=now,
        )
        entries += [
            OutboxEntry(notifier.name, target, notification)
            for target in targets.get(notifier.name, [""])
        ]
    return entries


def runway_words(left: Runway | NotEnoughHistory) -> str:
    """How the digest says how long the money lasts."""
    if not isinstance(left, Runway):
        return _("not enough history yet")
    days = left.days
    if days is None:
        return _("no spend, no end in sight")
    return _("about {days} days left").format(days=f"{days:.1f}")
