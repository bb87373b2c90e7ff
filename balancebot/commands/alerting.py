"""What chat's /alerts, /mute, /unmute and the `alerts` and `silences` CLI commands share.

One layer reads alert state and reads and writes silences, with one argument grammar, so
a mute set from a terminal and one set from Telegram are the same thing, shown the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from ..config import Config
from ..i18n import _
from ..labels import Matcher, Op, one_of, parse_matchers
from ..models import AlertStatus, Silence
from ..render import severity_name
from ..store import Store

MIN_MUTE = timedelta(minutes=1)
MAX_MUTE = timedelta(days=30)
MAX_HISTORY_DAYS = 365
MAX_COMMENT_CHARS = 500
# C0/C1 controls (newline, ESC...), line separators, and bidirectional overrides/isolates:
# what could move a terminal's cursor, recolour it, or make a listed row read otherwise
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SPAN = re.compile(r"(?:[0-9]{1,6}(?:\.[0-9]{1,3})?[dhms]){1,4}", re.ASCII)
_SPAN_PART = re.compile(r"([0-9]{1,6}(?:\.[0-9]{1,3})?)([dhms])", re.ASCII)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_MATCHER_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:=~|!~|!=|=).*")


class UsageError(Exception):
    """The arguments don't fit; the message says how."""


def mute_span_help() -> str:
    return _("a duration from 1m to 30d, like 30m, 2h or 1d12h")


def parse_mute_span(text: str) -> timedelta:
    """`2h`, `1h30m`, `1.5d` → a timedelta from 1 minute to 30 days; anything else (other
    digits, huge numbers, other units) is a UsageError naming the valid form."""
    if not _SPAN.fullmatch(text):
        raise UsageError(_("'{text}' is not {form}").format(text=text[:32], form=mute_span_help()))
    seconds = sum(
        (Decimal(n) * _UNIT_SECONDS[unit] for n, unit in _SPAN_PART.findall(text)), Decimal(0)
    )
    if not MIN_MUTE.total_seconds() <= seconds <= MAX_MUTE.total_seconds():
        raise UsageError(_("'{text}' is not {form}").format(text=text, form=mute_span_help()))
    return timedelta(seconds=int(seconds))


def is_days(text: str) -> bool:
    """A number of days: ASCII digits only (not superscript or full-width ones)."""
    return re.fullmatch(r"[0-9]+", text, re.ASCII) is not None


def parse_days(text: str) -> int:
    if not is_days(text) or len(text) > 3 or not 1 <= int(text) <= MAX_HISTORY_DAYS:
        raise UsageError(_("days are 1 to {most}").format(most=MAX_HISTORY_DAYS))
    return int(text)


def mute_target(
    config: Config, accounts: frozenset[str], full_access: bool, args: list[str]
) -> tuple[str | None, str | None]:
    """(account, rule) a mute names; muting a rule or everything needs access to all."""
    if not args:
        if not full_access:
            raise UsageError(_("name one of your accounts"))
        return None, None
    if len(args) > 1:
        raise UsageError(_("name one account or one rule"))
    target = args[0]
    if target in accounts:
        return target, None
    if full_access and target in {r.name for r in config.rules}:
        return None, target
    raise UsageError(_("no account or rule '{name}' that you may mute").format(name=target[:64]))


def silence_target(
    config: Config,
    accounts: frozenset[str],
    full_access: bool,
    account: str | None,
    rule: str | None,
) -> tuple[str | None, str | None]:
    """An (account, rule) pair named separately (the CLI's --account/--rule), checked as
    /mute checks its one argument: no account means access to every account is needed."""
    if account is not None and account not in accounts:
        raise UsageError(_("no account '{name}' that you may mute").format(name=account[:64]))
    if rule is not None and rule not in {r.name for r in config.rules}:
        raise UsageError(_("no rule '{name}'").format(name=rule[:64]))
    if account is None and not full_access:
        raise UsageError(_("name one of your accounts"))
    return account, rule


def muted_what(account: str | None, rule: str | None) -> str:
    if account:
        return account
    return _("rule {rule}").format(rule=rule) if rule else _("all alerts")


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One current alert, as `/alerts` and `balancebot alerts` show it."""

    account: str
    rule: str
    subject: str
    severity: str
    status: str
    since: datetime | None
    last_sent: datetime | None


async def current_alerts(store: Store, accounts: frozenset[str]) -> list[AlertRow]:
    """Firing and pending alerts of these accounts, from the store's alert state."""
    rows = []
    for key, state in sorted((await store.alert_states()).items()):
        if state.status is AlertStatus.INACTIVE or key.account not in accounts:
            continue
        rows.append(
            AlertRow(
                key.account,
                key.rule,
                key.subject,
                "" if state.severity is None else severity_name(state.severity).lower(),
                state.status.value,
                state.started_at,
                state.last_notified_at,
            )
        )
    return rows


async def visible_silences(
    store: Store,
    now: datetime,
    accounts: frozenset[str],
    full_access: bool,
    everyone: Iterable[str] = (),
) -> list[Silence]:
    """Active silences the caller may see: their accounts', rule-wide ones with access to
    every account, and mutes by labels that can mute none of `everyone` (the configured
    accounts) but theirs."""
    return [
        s for s in await store.active_silences(now) if may_see(s, accounts, full_access, everyone)
    ]


def may_see(
    silence: Silence, accounts: frozenset[str], full_access: bool, everyone: Iterable[str]
) -> bool:
    if silence.account is not None:
        return silence.account in accounts
    if full_access:
        return True
    reach = silence.accounts(everyone) if silence.matchers else set()
    return bool(reach) and reach <= accounts


def restricted(
    matchers: tuple[Matcher, ...], accounts: frozenset[str], full_access: bool
) -> tuple[Matcher, ...]:
    """A mute by labels for a caller who may not see every account: it also names the
    accounts they may see, so it can never quiet another's alerts."""
    if full_access:
        return matchers
    return (*matchers, Matcher.of("account", Op.RE, one_of(sorted(accounts))))


def leading_matchers(args: list[str]) -> tuple[tuple[Matcher, ...], list[str]]:
    """The label matchers at the start of `args` (`team=search severity!=info`), and the
    rest: what /mute reads after its duration, where no account or rule has an operator."""
    count = 0
    while count < len(args) and _MATCHER_TOKEN.fullmatch(args[count]):
        count += 1
    return parse_silence_matchers(args[:count]), args[count:]


def parse_silence_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """`team="search"`, `severity!=info`...: a UsageError naming the form if one is not."""
    try:
        return parse_matchers(texts)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_comment(comment: str) -> str:
    """A silence's comment (`--comment`, `/mute ... why`): one line of at most
    MAX_COMMENT_CHARS characters, no control characters; else a UsageError."""
    if len(comment) > MAX_COMMENT_CHARS:
        raise UsageError(_("a comment is at most {most} characters").format(most=MAX_COMMENT_CHARS))
    if _UNSAFE.search(comment):
        raise UsageError(_("a comment is one line of text, without control characters"))
    return comment


async def add_silence(
    store: Store,
    now: datetime,
    span: timedelta,
    target: tuple[str | None, str | None],
    created_by: str,
    comment: str = "",
    matchers: tuple[Matcher, ...] = (),
) -> Silence:
    """`matchers` already `restricted` to what the caller may see."""
    account, rule = target
    comment = check_comment(comment)
    return await store.add_silence(
        account, rule, now + span, created_by, now, comment, matchers=matchers
    )
