"""The built-in chat commands: /balance, /status, /mute, /unmute, /history, /alerts, /help.

Each registers itself with `@command`, in the order /help lists them, with the summary
/help shows. Bad input raises `UsageError`, which `Commands.handle` turns into a usage reply.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ..i18n import N_, _, ngettext
from ..models import AlertStatus, BalanceSnapshot, Severity
from ..phrases import waiting_text
from ..providers.contract import provider_title
from ..quiet import quiet_until
from ..render import balance_lines, human_duration, local_time, severity_name
from ..silences import release_unmuted
from ..trends import history_state
from .alerting import (
    MAX_HISTORY_DAYS,
    UsageError,
    add_silence,
    current_alerts,
    is_days,
    leading_matchers,
    mute_target,
    muted_what,
    parse_days,
    parse_mute_span,
    restricted,
    visible_silences,
)
from .core import REGISTRY, Commands, Reply, Request, command, fitted, summarised

log = logging.getLogger(__package__)  # "balancebot.commands": one logger for the layer


@command("/balance [account]", N_("Current balances (fetched now if the last check is old)."))
async def balance(self: Commands, request: Request) -> Reply:
    if len(request.args) > 1:
        raise UsageError(_("name at most one account"))
    names = (
        [self.pick_account(request, request.args[0])]
        if request.args
        else (self.visible_accounts(request))
    )
    items = []
    for name in names:
        result, freshness = await self.fresh_result(name)
        unavailable = isinstance(result, BalanceSnapshot) and not result.is_available
        state = _(" — NOT AVAILABLE for API calls") if unavailable else ""
        lines = [f"{name} ({freshness}){state}:"]
        lines += [f"  {line}" for line in balance_lines(result)]
        if isinstance(result, BalanceSnapshot):
            lines += [f"  {line}" for line in await self.outlook_lines(result)]
        items.append(lines)
    headline = (
        _("Balance of {account}").format(account=names[0]) if len(names) == 1 else _("Balances")
    )
    return fitted(lambda most: Reply(headline, tuple(summarised(items, most)), icon="💰"))


@command("/status", N_("Last checks, open alerts, silences and notifier health."))
async def status(self: Commands, request: Request) -> Reply:
    """Each list is summarised ("… and 297 more") as far as needed to fit one message on
    every platform, rather than cut there, losing whatever came after it."""
    if request.args:
        raise UsageError(_("/status takes no arguments"))
    now = self.clock.now()
    accounts = [await _account_status(self, name) for name in self.visible_accounts(request)]
    accounts.sort(key=lambda item: item[0])  # stable: failed and unchecked ones first
    firing = [
        s
        for s in self.memory.states().values()
        if s.status is AlertStatus.FIRING
        and s.key.account in request.accounts
        and s.severity is not Severity.INFO  # a top-up notice is news, not a problem
    ]
    alerts = []
    for state in sorted(firing, key=lambda s: s.key):
        assert state.severity is not None and state.started_at is not None
        subject = f" {state.key.subject}" if state.key.subject else ""
        alerts.append(
            f"  {state.key.account} {state.key.rule}{subject}: "
            + _("{severity}, since {time}").format(
                severity=severity_name(state.severity).lower(),
                time=local_time(state.started_at, self.zone),
            )
        )
    everyone = [a.name for a in self.config.accounts]
    silences = await visible_silences(
        self.store, now, request.accounts, request.full_access, everyone
    )
    muted = []
    for silence in silences:
        what = silence.describe() or _("everything")
        until = _("resolved") if silence.until_resolved else local_time(silence.until, self.zone)
        muted.append(
            "  "
            + _("{what} until {time} (by {who})").format(
                what=what, time=until, who=silence.created_by
            )
        )
    tail = []
    quiet = quiet_until(self.config.quiet_hours, now, self.zone, Severity.WARNING)
    if quiet is not None:
        tail.append(
            _("Quiet hours until {time}: warnings and infos are held").format(
                time=local_time(quiet, self.zone)
            )
        )
    notifiers: list[str] = []
    if request.full_access:
        for notifier in self.config.notifiers:
            problems = [
                f"{where}: {why}"
                for where, why in self.dispatcher.problems.items()
                if where.split(":", 1)[0] == notifier.name
            ]
            notifiers.append(f"  {notifier.name}: " + ("; ".join(problems) or _("ok")))
    chats = [f"  {name}: {s.describe()}" for name, s in self.front_ends().items()]
    headline = (
        ngettext(
            "Status: {count} alert firing", "Status: {count} alerts firing", len(firing)
        ).format(count=len(firing))
        if firing
        else _("Status: all clear")
    )

    def reply(most: int | None) -> Reply:
        details = [_("Accounts:"), *summarised([lines for _rank, lines in accounts], most)]
        details.append(_("Alerts firing: {count}").format(count=len(firing) or _("none")))
        details += summarised([[line] for line in alerts], most)
        details.append(_("Muted: {count}").format(count=len(silences) or _("nothing")))
        details += summarised([[line] for line in muted], most)
        details += tail
        if notifiers:
            details += [_("Notifiers:"), *summarised([[line] for line in notifiers], most)]
        if chats and request.full_access:
            details += [_("Chat:"), *chats]
        return Reply(headline, tuple(details), icon="🔴" if firing else "✅")

    return fitted(reply)


async def _account_status(self: Commands, name: str) -> tuple[int, list[str]]:
    """(0 for a failed or unchecked account, else 1; its lines in /status)."""
    if self.store.shared:  # another replica may have checked it last
        await self.checker.refresh(name)
    latest = self.memory.latest(name)
    if latest is None:
        return 0, ["  " + _("{account}: not checked yet").format(account=name)]
    if isinstance(latest, BalanceSnapshot):
        ago = self.ago(latest.taken_at)
        lines = ["  " + _("{account}: ok, {ago}").format(account=name, ago=ago)]
        for waiting in history_state(self.config.rules_for(name), self.memory.recent(name)):
            lines.append(f"    {waiting.rule} {waiting.currency}: {waiting_text(waiting.waiting)}")
        return 1, lines
    failed = _("{account}: FAILED ({kind}), {ago}").format(
        account=name, kind=latest.kind.value, ago=self.ago(latest.taken_at)
    )
    return 0, ["  " + failed]


@command(
    "/mute <duration> [account|rule] [why]",
    N_("Silence alerts for a while (e.g. /mute 2h prod topping up)."),
)
async def mute(self: Commands, request: Request) -> Reply:
    if not request.args:
        raise UsageError(_("say for how long, e.g. /mute 2h prod"))
    span = parse_mute_span(request.args[0])
    matchers, rest = leading_matchers(request.args[1:])
    if matchers:  # a mute by labels, of the caller's accounts only
        target: tuple[str | None, str | None] = (None, None)
        matchers = restricted(matchers, request.accounts, request.full_access)
        why = " ".join(rest)
    else:
        target = mute_target(self.config, request.accounts, request.full_access, rest[:1])
        why = " ".join(rest[1:])  # after the account or rule: the silence's comment
    silence = await add_silence(
        self.store, self.clock.now(), span, target, request.caller.label, why, matchers
    )
    what = " ".join(map(str, matchers)) if matchers else muted_what(*target)
    log.info("%s muted %s for %s", request.caller.label, what, human_duration(span))
    return Reply(
        _("Muted {what} for {duration}").format(what=what, duration=human_duration(span)),
        (
            _("Until {time}. /unmute ends it sooner.").format(
                time=local_time(silence.until, self.zone)
            ),
        ),
        icon="🔕",
    )


@command("/unmute [account|rule]", N_("End a mute set with /mute."))
async def unmute(self: Commands, request: Request) -> Reply:
    account, rule = mute_target(self.config, request.accounts, request.full_access, request.args)
    ended = await self.store.end_silences(account, rule, self.clock.now())
    what = muted_what(account, rule)
    if not ended:
        return Reply(_("Nothing was muted for {what}").format(what=what), icon="🔔")
    log.info("%s unmuted %s", request.caller.label, what)
    if await release_unmuted(
        self.store, self.clock.now(), self.memory.remember_told, self.config
    ):  # what the mute held back
        self.dispatcher.wake()
    return Reply(_("Unmuted {what}").format(what=what), icon="🔔")


@command("/history [account] [days]", N_("A chart of the balance over the last days (default 30)."))
async def history(self: Commands, request: Request) -> Reply:
    from ..charts import CHART_POINTS, ChartsUnavailable, plot_history

    names, spans = [], []
    for arg in request.args:
        if is_days(arg):
            spans.append(parse_days(arg))
        else:
            names.append(self.pick_account(request, arg))
    days = spans[0] if spans else 30
    if len(names) > 1 or len(spans) > 1:
        raise UsageError(_("one account, and 1 to {most} days").format(most=MAX_HISTORY_DAYS))
    account = names[0] if names else self.visible_accounts(request)[0]
    now = self.clock.now()
    since = now - timedelta(days=days)
    snapshots = await self.store.history(account, since, max_points=CHART_POINTS, until=now)
    failed = await self.store.failed_checks(account, since, now, CHART_POINTS)
    thresholds = self.config.thresholds_for(account)
    provider = provider_title(self.config, account)
    try:
        image = await asyncio.to_thread(
            plot_history, snapshots, account, provider, days, self.zone, thresholds, failed
        )
    except ChartsUnavailable as exc:
        return Reply(str(exc), icon="📉")
    return Reply(
        ngettext(
            "{account}: balance over {days} day", "{account}: balance over {days} days", days
        ).format(account=account, days=days),
        (
            ngettext("{count} snapshot", "{count} snapshots", len(snapshots)).format(
                count=len(snapshots)
            ),
        ),
        icon="📈",
        image=image,
    )


@command("/alerts", N_("Alerts firing or pending now, with when they were last sent."))
async def alerts(self: Commands, request: Request) -> Reply:
    if request.args:
        raise UsageError(_("/alerts takes no arguments"))
    rows = await current_alerts(self.store, request.accounts)
    items = [
        [
            f"{row.account} {row.rule}{' ' + row.subject if row.subject else ''}: "
            + _("{severity} {status} since {since}, last sent {sent}").format(
                severity=row.severity,
                status=row.status,
                since=local_time(row.since, self.zone) if row.since else "-",
                sent=local_time(row.last_sent, self.zone) if row.last_sent else _("never"),
            )
        ]
        for row in rows
    ]
    headline = _("Alerts: {count}").format(count=len(rows))
    icon = "🚨" if rows else "✅"
    return fitted(lambda most: Reply(headline, tuple(summarised(items, most)), icon=icon))


@command("/help", N_("This list."))
async def help_(self: Commands, request: Request) -> Reply:
    lines = tuple(f"{c.usage} — {_(c.summary)}" for c in REGISTRY.values())
    return Reply(_("Commands"), lines, icon="📖")
