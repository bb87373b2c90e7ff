"""One rendering layer: a transition becomes a `Notification`, which every platform shows.

The headline alone must tell a person on a phone lock screen what happened and how bad:
`CRITICAL: prod DeepSeek balance 8.20 CNY < 10.00`.
"""

from __future__ import annotations

import dataclasses
import html
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from .i18n import _
from .models import (
    BalanceSnapshot,
    CheckResult,
    CurrencyBalance,
    LimitBasis,
    Notification,
    Severity,
    Transition,
    TransitionKind,
)
from .phrases import describe
from .spend import money


def severity_name(severity: Severity) -> str:
    return {
        Severity.INFO: _("INFO"),
        Severity.WARNING: _("WARNING"),
        Severity.CRITICAL: _("CRITICAL"),
    }[severity]


def headline_label(transition: Transition) -> str:
    severity = severity_name(transition.severity)
    if transition.kind is TransitionKind.REPEAT:
        return _("{severity} (still)").format(severity=severity)
    if transition.kind is TransitionKind.ESCALATED:
        return _("{severity} (escalated)").format(severity=severity)
    if transition.kind is TransitionKind.RESOLVED:
        return _("RESOLVED")
    return severity


def first_notice(notification: Notification) -> Notification:
    """A "(still)" or "(escalated)" notice rewritten as the first one its reader gets (who
    never saw the alert fire: it was muted, or replaced in the queue): the plain severity,
    and the "Since:" line it keeps says how long it has been going on."""
    severity = severity_name(notification.severity)
    if notification.kind is TransitionKind.RESOLVED or notification.kind is TransitionKind.DIGEST:
        return notification
    for label in (_("{severity} (still)"), _("{severity} (escalated)")):
        said = label.format(severity=severity)
        if notification.headline.startswith(f"{said}:"):
            headline = severity + notification.headline[len(said) :]
            return dataclasses.replace(notification, kind=TransitionKind.FIRING, headline=headline)
    return notification


def notification_for(
    transition: Transition, result: CheckResult, provider_title: str, zone: tzinfo
) -> Notification:
    finding = transition.finding
    key = transition.key
    details = list(balance_lines(result))
    if finding.limit is not None and key.subject:
        threshold = _("Threshold: {limit} {currency}").format(
            limit=money(finding.limit), currency=key.subject
        )
        if finding.basis is not None:
            threshold += " " + basis_text(finding.basis, key.subject)
        details.append(threshold)
    details.append(_("Checked: {time}").format(time=local_time(result.taken_at, zone)))
    if transition.kind is TransitionKind.RESOLVED:
        details.append(_("Lasted: {duration}").format(duration=human_duration(transition.duration)))
    elif transition.kind is not TransitionKind.FIRING:
        details.append(_("Since: {time}").format(time=local_time(transition.started_at, zone)))
    details.append(_("Rule: {rule}").format(rule=key.rule))
    return Notification(
        kind=transition.kind,
        severity=transition.severity,
        account=key.account,
        rule=key.rule,
        subject=key.subject,
        headline=(
            f"{headline_label(transition)}: {key.account} {provider_title} "
            f"{describe(finding.facts, zone)}"
        ),
        details=tuple(details),
        at=transition.at,
        started_at=transition.started_at,
    )


def basis_text(basis: LimitBasis, currency: str) -> str:
    """Which limit applied: "(12% of the last top-up of 5,000.00 CNY)", or the fixed one
    while no top-up has been seen."""
    percent = f"{basis.percent.normalize():f}"
    if basis.top_up is None:
        return _("(fixed until a top-up is seen, then {percent}% of it)").format(percent=percent)
    top_up = basis.top_up
    amount = f"{top_up:,.2f}" if top_up.is_finite() and top_up.adjusted() < 15 else money(top_up)
    return _("({percent}% of the last top-up of {amount} {currency})").format(
        percent=percent, amount=amount, currency=currency
    )


def balance_lines(result: CheckResult) -> list[str]:
    if not isinstance(result, BalanceSnapshot):
        return [
            _("Check failed ({kind}): {message}").format(
                kind=result.kind.value, message=result.message
            )
        ]
    if not result.balances:
        return [_("No spending cap on this key") if result.uncapped else _("No balances reported")]
    return [_balance_line(currency, b) for currency, b in result.balances.items()]


def _balance_line(currency: str, b: CurrencyBalance) -> str:
    if b.limit is not None:
        return _("{currency}: {total} left of a {limit} limit").format(
            currency=currency, total=money(b.total), limit=money(b.limit)
        )
    if b.debt:
        return _("{currency}: {total} (granted {granted}, debt {debt})").format(
            currency=currency, total=money(b.total), granted=money(b.granted), debt=money(b.debt)
        )
    return _("{currency}: {total} (granted {granted}, topped-up {topped_up})").format(
        currency=currency,
        total=money(b.total),
        granted=money(b.granted),
        topped_up=money(b.topped_up),
    )


def local_time(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def human_duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def console_text(card: Card) -> str:
    return "\n".join([card.headline, *(f"    {d}" for d in card.details)])


SECTION_MAX_CHARS = 3000
"""The smallest block of text a platform balancebot ships shows whole (a Slack section)."""
MESSAGE_MAX_CHARS = 4096
"""The smallest message a platform balancebot ships shows whole (a Telegram message)."""


class Card(Protocol):
    """Anything shown as a message: an alert `Notification` or a command reply."""

    @property
    def icon(self) -> str: ...

    @property
    def headline(self) -> str: ...

    @property
    def details(self) -> tuple[str, ...]: ...


def with_icon(card: Card, text: str) -> str:
    return f"{card.icon} {text}" if card.icon else text


def fit(lines: list[str], limit: int) -> str:
    """Join lines, dropping trailing ones (and saying so) until the text fits."""
    text = "\n".join(lines)
    while len(text) > limit and len(lines) > 1:
        lines = lines[:-1]
        text = "\n".join([*lines, "…"])
    return text[:limit]


def fits(card: Card) -> bool:
    """Whether a card is shown whole on every platform, nothing cut by `fit`: its details
    within the smallest section and the whole within the smallest message, each character
    a markup escapes counted escaped (HTML's escaping is the widest) and the headline bold."""
    details = [html.escape(d) for d in card.details]
    if len("\n".join(details)) > SECTION_MAX_CHARS:
        return False
    head = with_icon(card, f"<b>{html.escape(card.headline)}</b>")
    return len("\n".join([head, *details])) <= MESSAGE_MAX_CHARS
