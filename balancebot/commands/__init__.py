"""The commands people type, the same on Telegram, Slack and the demo console.

Every command goes through `Commands.handle`, which checks authorization before it looks
at the command, so no command can be added without it. A command's docstring is its
help text. Bad input gets a usage reply, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..clock import Clock
from ..config import Config
from ..i18n import N_, _, ngettext
from ..models import AlertStatus, BalanceSnapshot, CheckResult, Severity
from ..quiet import quiet_until
from ..render import balance_lines, human_duration, local_time, severity_name
from ..silences import release_unmuted
from ..trends import history_state, outlook, outlook_since, waiting_text
from .access import Access, Caller, Refusals
from .operations import (
    MAX_HISTORY_DAYS,
    UsageError,
    add_silence,
    current_alerts,
    is_days,
    mute_target,
    muted_what,
    parse_days,
    parse_mute_span,
    visible_silences,
)

if TYPE_CHECKING:
    from ..checks import CheckPipeline
    from ..delivery import Dispatcher
    from ..frontends import FrontEndStatus
    from ..metrics import Metrics
    from ..store import Store

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 256
REFUSAL = N_("Sorry, you are not allowed to use this bot.")


@dataclass(frozen=True, slots=True)
class Reply:
    headline: str
    details: tuple[str, ...] = ()
    icon: str = ""
    image: bytes | None = None  # a PNG chart; the text is its caption
    best_effort: bool = False  # a refusal: send only if the chat's rate limit allows it now


@dataclass(frozen=True, slots=True)
class Request:
    caller: Caller
    args: list[str]
    accounts: frozenset[str]  # what the caller may see
    full_access: bool


Handler = Callable[["Commands", Request], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    handler: Handler
    summary: str = field(default="")


REGISTRY: dict[str, Command] = {}


def command(usage: str, summary: str) -> Callable[[Handler], Handler]:
    """Register a command; `summary` (marked with N_) is its /help line and menu entry."""

    def register(handler: Handler) -> Handler:
        name = usage.split()[0].lstrip("/")
        REGISTRY[name] = Command(name, usage, handler, summary)
        return handler

    return register


def parse(text: str) -> tuple[str, list[str]]:
    """`/balance@MyBot prod` → ("balance", ["prod"])."""
    words = text.split()
    if not words:
        return "", []
    name = words[0].lstrip("/").split("@", 1)[0].lower()
    return name, words[1:]


class Commands:
    def __init__(
        self,
        config: Config,
        pipeline: CheckPipeline,
        store: Store,
        dispatcher: Dispatcher,
        access: Access,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.store = store
        self.dispatcher = dispatcher
        self.access = access
        self.clock = clock
        self.zone = config.zone
        self.metrics = metrics
        self.refusals = Refusals()
        # set by the daemon: each chat front-end's connection state, for /status
        self.front_ends: Callable[[], Mapping[str, FrontEndStatus]] = dict
        self._outlooks: dict[str, tuple[BalanceSnapshot, list[str]]] = {}

    @property
    def registry(self) -> dict[str, Command]:
        return REGISTRY

    async def handle(self, caller: Caller, text: str) -> Reply | None:
        """The reply to send, or None: say nothing (a stranger already told no)."""
        accounts = self.access.accounts_for(caller)
        if not accounts:
            return self._refuse(caller)
        if len(text) > MAX_INPUT_CHARS:
            return Reply(
                _("That is too long (at most {count} characters).").format(count=MAX_INPUT_CHARS),
                icon="⚠️",
            )
        name, args = parse(text)
        found = REGISTRY.get(name)
        if found is None:
            known = ", ".join("/" + n for n in REGISTRY)
            return Reply(_("Unknown command. Try: {commands}").format(commands=known), icon="❓")
        request = Request(caller, args, accounts, accounts == self.access.all_accounts)
        try:
            return await found.handler(self, request)
        except UsageError as exc:
            usage = _("Usage: {usage}").format(usage=found.usage)
            return Reply(usage, (str(exc),) if str(exc) else (), icon="❓")
        except Exception:
            log.exception("command /%s from %s failed", name, caller.label)
            return Reply(_("Sorry, that failed; the error is in the bot's log."), icon="⚠️")

    def _refuse(self, caller: Caller) -> Reply | None:
        """Once per chat per period a refusal (best effort), then silence: a flood of
        stranger commands costs neither sends nor the allowed users' rate budget."""
        answer = self.refusals.should_answer(caller, self.clock.now())
        if self.metrics is not None:
            outcome = "answered" if answer else "dropped"
            self.metrics.commands_refused.labels(caller.platform, outcome).inc()
        if not answer:
            log.debug("dropped a command from %s in chat %s", caller.label, caller.chat_id)
            return None
        log.warning(
            "refused %s user %s (%s) in chat %s%s",
            caller.platform,
            caller.user_id,
            caller.name or "?",
            caller.chat_id,
            "" if caller.private else " (a group: allow rules need the user AND the chat)",
        )
        return Reply(_(REFUSAL), icon="⛔", best_effort=True)

    def visible_accounts(self, request: Request) -> list[str]:
        """The caller's accounts in config order."""
        return [a.name for a in self.config.accounts if a.name in request.accounts]

    def pick_account(self, request: Request, name: str) -> str:
        if name not in request.accounts:  # same answer whether it exists or not
            raise UsageError(_("no account '{name}' that you may see").format(name=name))
        return name

    def ago(self, moment: datetime) -> str:
        span = self.clock.now() - moment
        if span < timedelta(seconds=1):
            return _("just now")
        return _("{duration} ago").format(duration=human_duration(span))

    async def outlook_lines(self, result: BalanceSnapshot) -> list[str]:
        """Runway and today's spend per currency: worked out once per snapshot (a busy
        chat asks about the same one many times), from the history the checks keep in
        memory when it reaches back far enough, else from the store."""
        cached = self._outlooks.get(result.account)
        if cached is not None and cached[0] is result:
            return cached[1]
        rules = self.config.rules_for(result.account)
        now = self.clock.now()
        since = outlook_since(rules, now, self.zone)
        history = [
            r for r in self.pipeline.recent(result.account) if isinstance(r, BalanceSnapshot)
        ]
        if not history or history[0].taken_at > since:
            history = await self.store.history(result.account, since)
        if not history or history[-1].taken_at < result.taken_at:
            history.append(result)
        lines = [outlook(rules, history, c, now, self.zone) for c in result.balances]
        self._outlooks[result.account] = (result, lines)
        return lines

    async def fresh_result(self, account: str) -> tuple[CheckResult, str]:
        """A snapshot younger than `chat.balance_max_age`, or a check made now. With replicas
        on one store, another replica may have made the last check: it is read from the
        store instead, and no check is made here (it would write outside the check leases)."""
        if self.store.shared:
            await self.pipeline.refresh(account)
            latest = self.pipeline.latest(account)
            if latest is not None:
                return latest, _("checked {ago}").format(ago=self.ago(latest.taken_at))
        latest = self.pipeline.latest(account)
        max_age = self.config.chat.balance_max_age
        if isinstance(latest, BalanceSnapshot) and self.clock.now() - latest.taken_at <= max_age:
            return latest, _("checked {ago}").format(ago=self.ago(latest.taken_at))
        outcome = await self.pipeline.check(account)
        return outcome.result, _("checked now")


@command("/balance [account]", N_("Current balances (fetched now if the last check is old)."))
async def balance(self: Commands, request: Request) -> Reply:
    if len(request.args) > 1:
        raise UsageError(_("name at most one account"))
    names = (
        [self.pick_account(request, request.args[0])]
        if request.args
        else (self.visible_accounts(request))
    )
    details = []
    for name in names:
        result, freshness = await self.fresh_result(name)
        unavailable = isinstance(result, BalanceSnapshot) and not result.is_available
        state = _(" — NOT AVAILABLE for API calls") if unavailable else ""
        details.append(f"{name} ({freshness}){state}:")
        details += [f"  {line}" for line in balance_lines(result)]
        if isinstance(result, BalanceSnapshot):
            details += [f"  {line}" for line in await self.outlook_lines(result)]
    headline = (
        _("Balance of {account}").format(account=names[0]) if len(names) == 1 else _("Balances")
    )
    return Reply(headline, tuple(details), icon="💰")


@command("/status", N_("Last checks, open alerts, silences and notifier health."))
async def status(self: Commands, request: Request) -> Reply:
    if request.args:
        raise UsageError(_("/status takes no arguments"))
    now = self.clock.now()
    details = [_("Accounts:")]
    for name in self.visible_accounts(request):
        if self.store.shared:  # another replica may have checked it last
            await self.pipeline.refresh(name)
        latest = self.pipeline.latest(name)
        if latest is None:
            details.append("  " + _("{account}: not checked yet").format(account=name))
        elif isinstance(latest, BalanceSnapshot):
            ago = self.ago(latest.taken_at)
            details.append("  " + _("{account}: ok, {ago}").format(account=name, ago=ago))
            for waiting in history_state(self.config.rules_for(name), self.pipeline.recent(name)):
                details.append(
                    f"    {waiting.rule} {waiting.currency}: {waiting_text(waiting.waiting)}"
                )
        else:
            details.append(
                "  "
                + _("{account}: FAILED ({kind}), {ago}").format(
                    account=name, kind=latest.kind.value, ago=self.ago(latest.taken_at)
                )
            )
    firing = [
        s
        for s in self.pipeline.states().values()
        if s.status is AlertStatus.FIRING
        and s.key.account in request.accounts
        and s.severity is not Severity.INFO  # a top-up notice is news, not a problem
    ]
    details.append(_("Alerts firing: {count}").format(count=len(firing) or _("none")))
    for state in sorted(firing, key=lambda s: s.key):
        assert state.severity is not None and state.started_at is not None
        subject = f" {state.key.subject}" if state.key.subject else ""
        details.append(
            f"  {state.key.account} {state.key.rule}{subject}: "
            + _("{severity}, since {time}").format(
                severity=severity_name(state.severity).lower(),
                time=local_time(state.started_at, self.zone),
            )
        )
    silences = await visible_silences(self.store, now, request.accounts, request.full_access)
    details.append(_("Muted: {count}").format(count=len(silences) or _("nothing")))
    for silence in silences:
        parts = (silence.account, silence.rule, silence.subject)
        what = " / ".join(x for x in parts if x) or _("everything")
        until = _("resolved") if silence.until_resolved else local_time(silence.until, self.zone)
        details.append(
            "  "
            + _("{what} until {time} (by {who})").format(
                what=what, time=until, who=silence.created_by
            )
        )
    quiet = quiet_until(self.config.quiet_hours, now, self.zone, Severity.WARNING)
    if quiet is not None:
        details.append(
            _("Quiet hours until {time}: warnings and infos are held").format(
                time=local_time(quiet, self.zone)
            )
        )
    if request.full_access:
        details.append(_("Notifiers:"))
        for notifier in self.config.notifiers:
            problems = [
                f"{where}: {why}"
                for where, why in self.dispatcher.problems.items()
                if where.split(":", 1)[0] == notifier.name
            ]
            details.append(f"  {notifier.name}: " + ("; ".join(problems) or _("ok")))
        if front_ends := self.front_ends():
            details.append(_("Chat:"))
            details += [f"  {name}: {s.describe()}" for name, s in front_ends.items()]
    headline = (
        ngettext(
            "Status: {count} alert firing", "Status: {count} alerts firing", len(firing)
        ).format(count=len(firing))
        if firing
        else _("Status: all clear")
    )
    return Reply(headline, tuple(details), icon="🔴" if firing else "✅")


@command("/mute <duration> [account|rule]", N_("Silence alerts for a while (e.g. /mute 2h prod)."))
async def mute(self: Commands, request: Request) -> Reply:
    if not request.args:
        raise UsageError(_("say for how long, e.g. /mute 2h prod"))
    span = parse_mute_span(request.args[0])
    target = mute_target(self.config, request.accounts, request.full_access, request.args[1:])
    silence = await add_silence(self.store, self.clock.now(), span, target, request.caller.label)
    what = muted_what(*target)
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
        self.store, self.clock.now(), self.pipeline.remember_told
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
    snapshots = await self.store.history(
        account, now - timedelta(days=days), max_points=CHART_POINTS, until=now
    )
    thresholds = self.config.thresholds_for(account)
    try:
        image = await asyncio.to_thread(
            plot_history, snapshots, account, days, self.zone, thresholds
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
    details = tuple(
        f"{row.account} {row.rule}{' ' + row.subject if row.subject else ''}: "
        + _("{severity} {status} since {since}, last sent {sent}").format(
            severity=row.severity,
            status=row.status,
            since=local_time(row.since, self.zone) if row.since else "-",
            sent=local_time(row.last_sent, self.zone) if row.last_sent else _("never"),
        )
        for row in rows
    )
    return Reply(_("Alerts: {count}").format(count=len(rows)), details, icon="🚨" if rows else "✅")


@command("/help", N_("This list."))
async def help_(self: Commands, request: Request) -> Reply:
    lines = tuple(f"{c.usage} — {_(c.summary)}" for c in REGISTRY.values())
    return Reply(_("Commands"), lines, icon="📖")
