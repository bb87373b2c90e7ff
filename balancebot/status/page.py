"""The status page as HTML, drawn from the status document: one self-contained page (its
stylesheet and charts inline, no script), every dynamic text escaped, in the process's
language, reloading itself every minute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from html import escape
from urllib.parse import quote

from ..i18n import _, language, ngettext
from ..models import AlertStatus, Severity, Silence
from ..phrases import runway_text, waiting_text
from ..render import human_duration, severity_name
from ..spend import NotEnoughHistory, money
from .chart import ChartData, balance_chart
from .document import AccountStatus, AlertEntry, CurrencyStatus, StatusDocument
from .style import CSS

REFRESH_SECONDS = 60
CHART_DAYS = 30


class Html(str):
    """Text that is already HTML: `t()` puts it in as it is."""


def tag(name: str, text: str, css: str = "") -> Html:
    """`<name class="css">text</name>`, the text escaped."""
    attribute = f' class="{css}"' if css else ""
    return Html(f"<{name}{attribute}>{escape(text)}</{name}>")


def t(template: str, **values: object) -> Html:
    """A translated message as HTML: the message and every value escaped, but `Html` ones."""
    escaped = {k: v if isinstance(v, Html) else escape(str(v)) for k, v in values.items()}
    return Html(escape(template).format(**escaped))


class PageContext:
    """What the page needs besides the document."""

    def __init__(
        self,
        zone: tzinfo,
        providers: Mapping[str, str],
        charts: Mapping[str, ChartData],
        chart_start: datetime,
        token: str | None,
        charts_missing: int = 0,
    ) -> None:
        self.zone = zone
        self.providers = providers  # account → the provider's display name
        self.charts = charts
        self.chart_start = chart_start
        self.token = token  # let in by `?token=`: kept in the page's links
        self.charts_missing = charts_missing  # not read from the store in time


def render_page(document: StatusDocument, problems: Sequence[str], context: PageContext) -> str:
    now = document.generated_at
    firing = document.firing
    worst = max((a.severity for a in firing if a.severity is not None), default=None)
    state = {Severity.CRITICAL: "critical", Severity.WARNING: "warning"}.get(worst, "ok")  # type: ignore[arg-type]
    if firing:
        headline = ngettext("{count} alert firing", "{count} alerts firing", len(firing)).format(
            count=len(firing)
        )
    else:
        headline = _("All clear: no alert firing")
    link = "api/v1/status" + (f"?token={quote(context.token, safe='')}" if context.token else "")
    body = [
        "<header>",
        tag("h1", _("balancebot status")),
        '<span class="meta">',
        t(_("updated {time}"), time=_time(now, now, context.zone, ago=False)),
        " · ",
        escape(_("refreshes every minute")),
        "</span></header>",
        f'<div class="state {state}" role="status">{escape(headline)}</div>',
    ]
    for problem in problems:
        body.append(
            '<div class="problem">'
            + t(
                _("Could not read the store ({problem}): silences and older history are missing."),
                problem=problem,
            )
            + "</div>"
        )
    if context.charts_missing:
        late = ngettext(
            "The chart of {count} account is still being read; it comes with a later reload.",
            "The charts of {count} accounts are still being read; they come with a later reload.",
            context.charts_missing,
        )
        body.append(tag("p", late.format(count=context.charts_missing), "meta"))
    body.append(tag("h2", _("Alerts")))
    body.append(_alerts(document.alerts, now, context.zone))
    body.append(tag("h2", _("Accounts")))
    body.append('<div class="cards">')
    for account in document.accounts:
        body.append(_account(account, document.alerts, now, context))
    body.append("</div>")
    body.append(_legend())
    body.append(tag("h2", _("Silences")))
    body.append(_silences(document.silences, now, context.zone))
    body.append(
        "<footer>"
        + t(_("Times in {zone}."), zone=document.timezone)
        + f' <a href="{escape(link)}">JSON</a></footer>'
    )
    title = headline + " · " + _("balancebot status")
    lang = "zh-CN" if language() == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>"
    )


def _time(moment: datetime, now: datetime, zone: tzinfo, ago: bool = True) -> Html:
    """`<time>`: the local time, and how long ago."""
    local = moment.astimezone(zone)
    shown = f"{local:%Y-%m-%d %H:%M}"
    if ago and moment <= now:
        span = now - moment
        relative = (
            _("just now")
            if span.total_seconds() < 1
            else _("{duration} ago").format(duration=human_duration(span))
        )
        shown = f"{shown} ({relative})"
    full = f"{local:%Y-%m-%d %H:%M:%S %Z}"
    return Html(
        f'<time datetime="{escape(moment.isoformat())}" title="{escape(full)}">'
        f"{escape(shown)}</time>"
    )


def _alerts(alerts: Sequence[AlertEntry], now: datetime, zone: tzinfo) -> str:
    if not alerts:
        return tag("p", _("No alert is firing or pending."), "empty")
    items = []
    for alert in alerts:
        severity = alert.severity.label if alert.severity is not None else "pending"
        badge = severity_name(alert.severity) if alert.severity is not None else ""
        if alert.status is AlertStatus.PENDING:
            severity, badge = "pending", _("pending") + (f" {badge}" if badge else "")
        what = " ".join(p for p in (alert.key.account, alert.key.rule, alert.key.subject) if p)
        facts: list[str] = []
        if alert.since is not None:
            facts.append(t(_("since {time}"), time=_time(alert.since, now, zone)))
        if alert.last_sent is not None:
            facts.append(t(_("last sent {time}"), time=_time(alert.last_sent, now, zone)))
        elif alert.status is AlertStatus.FIRING:
            facts.append(escape(_("not sent yet")))
        items.append(
            f'<li><span class="badge {severity}">{escape(badge)}</span><b>{escape(what)}</b>'
            f'<div class="sub">{" · ".join(facts)}</div></li>'
        )
    return f'<ul class="list alerts">{"".join(items)}</ul>'


def _silences(silences: Sequence[Silence], now: datetime, zone: tzinfo) -> str:
    if not silences:
        return tag("p", _("Nothing is muted."), "empty")
    items = []
    for silence in silences:
        what = silence.describe() or _("everything")
        until = (
            escape(_("until resolved"))
            if silence.until_resolved
            else t(_("until {time}"), time=_time(silence.until, now, zone, ago=False))
        )
        facts = [until, t(_("by {who}"), who=silence.created_by)]
        comment = f'<div class="sub">“{escape(silence.comment)}”</div>' if silence.comment else ""
        items.append(
            f'<li><b>{escape(what)}</b><div class="sub">{" · ".join(facts)}</div>{comment}</li>'
        )
    return f'<ul class="list silences">{"".join(items)}</ul>'


def _account(
    account: AccountStatus, alerts: Sequence[AlertEntry], now: datetime, context: PageContext
) -> str:
    mine = [
        a.severity
        for a in alerts
        if a.key.account == account.name and a.status is AlertStatus.FIRING and a.severity
    ]
    check = account.last_check
    if mine:
        state = max(mine).label
    elif check is None:
        state = "unknown"
    elif check.outcome == "failed" or check.available is False:
        state = "warning"
    else:
        state = "ok"
    provider = context.providers.get(account.name, account.provider)
    head = (
        f'<h3><span>{escape(account.name)}</span><span class="sub">{escape(provider)}</span></h3>'
    )
    if check is None:
        line: str = tag("div", _("not checked yet"), "check")
    elif check.outcome == "failed":
        line = (
            '<div class="check failed">'
            + t(
                _("check failed ({kind}) {time}: {message}"),
                kind=check.failure_kind or "",
                time=_time(check.at, now, context.zone),
                message=check.message or "",
            )
            + "</div>"
        )
    else:
        unavailable = (
            " · " + escape(_("NOT AVAILABLE for API calls")) if check.available is False else ""
        )
        line = (
            '<div class="check">'
            + t(_("checked {ago}"), ago=_time(check.at, now, context.zone))
            + f"{unavailable}</div>"
        )
    currencies: list[str] = []
    if account.uncapped:
        currencies.append(tag("p", _("no spending cap: no balance to show"), "facts"))
    chart = context.charts.get(account.name)
    for currency in account.balances:
        currencies.append(_currency(account, currency, chart, now, context))
    inner = head + line + "".join(currencies)
    return f'<section class="card {state}" id="account-{escape(account.name)}">{inner}</section>'


def _currency(
    account: AccountStatus,
    balance: CurrencyStatus,
    chart: ChartData | None,
    now: datetime,
    context: PageContext,
) -> str:
    facts: list[str] = []
    if balance.granted != 0:
        facts.append(
            t(
                _("granted {granted}, paid {paid}"),
                granted=money(balance.granted),
                paid=money(balance.topped_up),
            )
        )
    if balance.limit is not None:
        facts.append(t(_("limit {limit}"), limit=money(balance.limit)))
    if balance.used is not None:
        facts.append(t(_("used {used}"), used=money(balance.used)))
    found = balance.runway
    outlook = (
        waiting_text(found)
        if isinstance(found, NotEnoughHistory)
        else runway_text(found, context.zone)
    )
    facts.append(escape(outlook))
    facts.append(
        t(_("spent today {amount}"), amount=Html(f"<b>{escape(money(balance.spent_today))}</b>"))
    )
    if (
        account.balances_at is not None
        and account.last_check is not None
        and account.last_check.outcome == "failed"
    ):
        facts.append(t(_("as of {time}"), time=_time(account.balances_at, now, context.zone)))
    drawn = ""
    if chart is not None:
        caption = ngettext("last {days} day", "last {days} days", CHART_DAYS).format(
            days=CHART_DAYS
        )
        drawn = f'<div class="sub">{escape(caption)}</div>' + balance_chart(
            chart,
            balance.currency,
            context.chart_start,
            now,
            context.zone,
            f"{account.name} {balance.currency}, {caption}",
        )
    return (
        f'<div class="currency"><div class="amount">{escape(money(balance.total))}'
        f"<small>{escape(balance.currency)}</small></div>"
        f'<div class="facts">{"<br>".join(facts)}</div>{drawn}</div>'
    )


def _legend() -> str:
    keys = (
        ("", _("balance")),
        ("warn", _("warning below")),
        ("crit", _("critical below")),
        ("topup", _("top-up")),
        ("failed", _("checks failed")),
    )
    items = "".join(f'<span><i class="{css}"></i>{escape(label)}</span>' for css, label in keys)
    return f'<div class="legend">{items}</div>'
