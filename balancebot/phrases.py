"""The words of what the rules find: a finding's sentence, a runway, a span of time, the
outlook `/balance` and `check` show. The rules return data (`facts.py`); this is where it
becomes a sentence in the reader's language and time zone, so the language catalogs are
reached from the rendering layer only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from .config import RuleConfig
from .facts import (
    AvailabilityFacts,
    BalanceFacts,
    Facts,
    FailureFacts,
    Grown,
    RunwayFacts,
    SpikeFacts,
    TopUpFacts,
    TroubleFacts,
)
from .i18n import N_, _, ngettext
from .models import BalanceSnapshot, Currency
from .spend import NotEnoughHistory, Runway, money, plain, runway, spent
from .trends import midnight, runway_settings

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def describe(facts: Facts, zone: tzinfo) -> str:
    """A finding's sentence: `balance 8.20 CNY < 10.00`; `zone`, where its readers tell
    the time (a runway says when it runs out)."""
    match facts:
        case BalanceFacts():
            return _balance(facts)
        case AvailabilityFacts(available=available):
            if available:
                return _("account can make API calls again")
            return _("account cannot make API calls (is_available is false)")
        case FailureFacts():
            return _failures(facts)
        case RunwayFacts():
            if facts.short:
                return runway_text(facts, zone)
            return lasts_text(facts) + top_up_note(facts.topped_up, facts.currency)
        case SpikeFacts():
            return _(
                "spent {spent} {currency} in the last {period}; usually {usual} "
                "(median over {days} days)"
            ).format(
                spent=money(facts.spent),
                currency=facts.currency,
                period=span_text(facts.period),
                usual=money(facts.usual),
                days=facts.days,
            )
        case TroubleFacts(message=message):
            return message
        case TopUpFacts():
            return _("topped up +{amount} {currency}, now {total}").format(
                amount=money(facts.amount), currency=facts.currency, total=money(facts.total)
            )


def _balance(facts: BalanceFacts) -> str:
    template = (
        _("balance {value} {currency} < {limit}")
        if facts.below
        else _("balance {value} {currency} ≥ {limit}")
    )
    text = template.format(
        value=shown_against(facts.value, facts.limit),
        currency=facts.currency,
        limit=money(facts.limit),
    )
    if facts.grown is not None:
        text += " " + grown_note(facts.grown)
    return text + top_up_note(facts.topped_up, facts.currency)


def grown_note(grown: Grown) -> str:
    """Why a limit is higher than the configured one: `(3 days at 42.10/day)`."""
    return _("({days} days at {rate}/day)").format(
        days=f"{grown.days:.1f}".removesuffix(".0"), rate=money(grown.per_day)
    )


def _failures(facts: FailureFacts) -> str:
    if not facts.failures:
        return _("balance checks succeed again")
    message = facts.message if facts.message is not None else no_data_message(facts.missing)
    return ngettext(
        "balance check failed {count} time in a row: {message}",
        "balance check failed {count} times in a row: {message}",
        facts.failures,
    ).format(count=facts.failures, message=message)


def no_data_message(missing: Sequence[Currency]) -> str:
    """What a check with `missing` currencies is reported as: `no CNY balance in the answer`."""
    return _("no {currencies} balance in the answer").format(currencies="/".join(missing))


def shown_against(value: Decimal, limit: Decimal) -> str:
    """`value` with two decimals, unless they would make it look equal to the limit it is
    compared with: 19.996 below 20 read "balance 20.00 USD < 20.00" (OpenRouter's
    float-like amounts), -0.00000001 below 0 "0.00 < 0.00". Then every decimal it has."""
    text = money(value)
    return plain(value) if text == money(limit) and value != limit else text


def top_up_note(amount: Decimal | None, currency: str) -> str:
    """Said when an alert resolves at the check that saw money arrive."""
    if amount is None:
        return ""
    return " " + _("(topped up +{amount} {currency})").format(
        amount=money(amount), currency=currency
    )


def runway_text(found: Runway | RunwayFacts, zone: tzinfo) -> str:
    """ "at 42.10 CNY/day (last 24 h) runs out in about 2.3 days, around Fri 14:00"."""
    when = found.runs_out_at
    days = found.days
    if when is None or days is None:
        return lasts_text(found)
    return _(
        "at {rate} {currency}/day (last {window}) runs out in about {left}, around {when}"
    ).format(
        rate=money(found.per_day),
        currency=found.currency,
        window=span_text(found.basis),
        left=left_text(days),
        when=moment_text(when, found.as_of, zone),
    )


def lasts_text(found: Runway | RunwayFacts) -> str:
    """The same facts when nothing is wrong (digest, /balance, a resolved notice)."""
    days = found.days
    if days is None:
        return _("no spend in the last {window}, no end in sight").format(
            window=span_text(found.basis)
        )
    return _("at {rate} {currency}/day (last {window}) lasts about {left}").format(
        rate=money(found.per_day),
        currency=found.currency,
        window=span_text(found.basis),
        left=left_text(days),
    )


def left_text(days: Decimal) -> str:
    """`2.3 days`, `5 h`, `17 min`: a runway in the unit a person would use."""
    if days >= 1:
        return _("{count} days").format(count=f"{days:.1f}")
    if days * 24 >= 1:
        return _("{count} h").format(count=f"{days * 24:.0f}")
    return _("{count} min").format(count=max(1, round(days * 1440)))


def waiting_text(waiting: NotEnoughHistory) -> str:
    if waiting.covered < timedelta(minutes=1):
        return _("not enough history yet (needs {needed})").format(needed=span_text(waiting.needed))
    return _("not enough history yet ({covered} of {needed})").format(
        covered=span_text(waiting.covered), needed=span_text(waiting.needed)
    )


def outlook(
    rules: Iterable[RuleConfig],
    history: Sequence[BalanceSnapshot],
    currency: Currency,
    now: datetime,
    zone: tzinfo,
) -> str:
    """One currency's runway and today's spend, as `/balance` and `check` show them."""
    window, least = runway_settings(rules)
    found = runway(history, currency, now, window, least)
    left = waiting_text(found) if isinstance(found, NotEnoughHistory) else runway_text(found, zone)
    today = spent(history, currency, midnight(now, zone))
    return _("{currency}: {runway}; spent today {today}").format(
        currency=currency, runway=left, today=money(today)
    )


def span_text(span: timedelta) -> str:
    """`24 h`, `3 days`, `90 min`, `20 s`: how a person names a window."""
    minutes = int(span.total_seconds() // 60)
    if minutes >= 2880 and minutes % 1440 == 0:
        return _("{count} days").format(count=minutes // 1440)
    if minutes >= 60 and minutes % 60 == 0:
        return _("{count} h").format(count=minutes // 60)
    if minutes:
        return _("{count} min").format(count=minutes)
    return _("{count} s").format(count=int(span.total_seconds()))


def rough_span(span: timedelta, text: Callable[[str], str] = _) -> str:
    """`95 s`, `12 min`, `5 h`, `7 days`, to the nearest unit: how long, where exactness
    would be noise (`/readyz`, a chart's title). `text`: `N_` for English always."""
    seconds = max(0, round(span.total_seconds()))
    for message, size in ((N_("{count} days"), 86400), (N_("{count} h"), 3600)):
        if seconds >= 2 * size:
            return text(message).format(count=(seconds + size // 2) // size)
    if seconds >= 120:
        return text(N_("{count} min")).format(count=(seconds + 30) // 60)
    return text(N_("{count} s")).format(count=seconds)


def moment_text(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """A weekday and time within the coming week, a date beyond it."""
    local = moment.astimezone(zone)
    if moment - now < timedelta(days=6):
        return f"{_(WEEKDAYS[local.weekday()])} {local:%H:%M}"
    return f"{local:%Y-%m-%d}"
