"""The commands people type, the same on Telegram, Slack and the demo console.

Every command goes through `Commands.handle`, which checks authorization before it looks
at the command, so no command can be added without it. A command's docstring is its
help text. Bad input gets a usage reply, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..clock import Clock
from ..config import Config, parse_duration
from ..i18n import N_, _
from ..models import AlertStatus, BalanceSnapshot, CheckResult
from ..render import balance_lines, human_duration, local_time, severity_name
from .access import Access, Caller

if TYPE_CHECKING:
    from ..checks import CheckPipeline
    from ..delivery import Dispatcher
    from ..store import Store

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 256
MAX_MUTE = timedelta(days=30)
REFUSAL = N_("Sorry, you are not allowed to use this bot.")


@dataclass(frozen=True, slots=True)
class Reply:
    headline: str
    details: tuple[str, ...] = ()
    icon: str = ""
    image: bytes | None = None  # a PNG chart; the text is its caption


@dataclass(frozen=True, slots=True)
class Request:
    caller: Caller
    args: list[str]
    accounts: frozenset[str]  # what the caller may see
    full_access: bool


class UsageError(Exception):
    """The arguments don't fit; the message says how."""


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
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.store = store
        self.dispatcher = dispatcher
        self.access = access
        self.clock = clock
        self.zone = zoneinfo.ZoneInfo(config.timezone)

    @property
    def registry(self) -> dict[str, Command]:
        return REGISTRY

    async def handle(self, caller: Caller, text: str) -> Reply:
        accounts = self.access.accounts_for(caller)
        if not accounts:
            log.warning(
                "refused %s user %s (%s) in chat %s",
                caller.platform,
                caller.user_id,
                caller.name or "?",
                caller.chat_id,
            )
            return Reply(_(REFUSAL), icon="⛔")
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

    async def fresh_result(self, account: str) -> tuple[CheckResult, str]:
        """A snapshot younger than `chat.balance_max_age`, or a check made now."""
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
        latest = self.pipeline.latest(name)
        if latest is None:
            details.append("  " + _("{account}: not checked yet").format(account=name))
        elif isinstance(latest, BalanceSnapshot):
            ago = self.ago(latest.taken_at)
            details.append("  " + _("{account}: ok, {ago}").format(account=name, ago=ago))
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
        if s.status is AlertStatus.FIRING and s.key.account in request.accounts
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
    silences = [
        s
        for s in await self.store.active_silences(now)
        if (s.account in request.accounts) or (s.account is None and request.full_access)
    ]
    details.append(_("Muted: {count}").format(count=len(silences) or _("nothing")))
    for silence in silences:
        what = " / ".join(x for x in (silence.account, silence.rule) if x) or _("everything")
        details.append(
            "  "
            + _("{what} until {time} (by {who})").format(
                what=what, time=local_time(silence.until, self.zone), who=silence.created_by
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
    headline = (
        _("Status: {count} alert(s) firing").format(count=len(firing))
        if firing
        else _("Status: all clear")
    )
    return Reply(headline, tuple(details), icon="🔴" if firing else "✅")


def _mute_target(
    self: Commands, request: Request, args: list[str]
) -> tuple[str | None, str | None]:
    """(account, rule) a mute names; muting a rule or everything needs access to all."""
    if not args:
        if not request.full_access:
            raise UsageError(_("name one of your accounts"))
        return None, None
    if len(args) > 1:
        raise UsageError(_("name one account or one rule"))
    target = args[0]
    if target in request.accounts:
        return target, None
    if request.full_access and target in {r.name for r in self.config.rules}:
        return None, target
    raise UsageError(_("no account or rule '{name}' that you may mute").format(name=target))


@command("/mute <duration> [account|rule]", N_("Silence alerts for a while (e.g. /mute 2h prod)."))
async def mute(self: Commands, request: Request) -> Reply:
    if not request.args:
        raise UsageError(_("say for how long, e.g. /mute 2h prod"))
    try:
        span = parse_duration(request.args[0])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if span > MAX_MUTE:
        raise UsageError(_("at most 30d"))
    account, rule = _mute_target(self, request, request.args[1:])
    now = self.clock.now()
    silence = await self.store.add_silence(account, rule, now + span, request.caller.label, now)
    what = _muted_what(account, rule)
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


def _muted_what(account: str | None, rule: str | None) -> str:
    if account:
        return account
    return _("rule {rule}").format(rule=rule) if rule else _("all alerts")


@command("/unmute [account|rule]", N_("End a mute set with /mute."))
async def unmute(self: Commands, request: Request) -> Reply:
    account, rule = _mute_target(self, request, request.args)
    ended = await self.store.end_silences(account, rule, self.clock.now())
    what = _muted_what(account, rule)
    if not ended:
        return Reply(_("Nothing was muted for {what}").format(what=what), icon="🔔")
    log.info("%s unmuted %s", request.caller.label, what)
    return Reply(_("Unmuted {what}").format(what=what), icon="🔔")


@command("/history [account] [days]", N_("A chart of the balance over the last days (default 30)."))
async def history(self: Commands, request: Request) -> Reply:
    from ..charts import CHART_POINTS, ChartsUnavailable, plot_history

    names, days = [], 30
    for arg in request.args:
        if arg.isdigit():
            days = int(arg)
        else:
            names.append(self.pick_account(request, arg))
    if len(names) > 1 or not 1 <= days <= 365:
        raise UsageError(_("one account, and 1 to 365 days"))
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
        _("{account}: balance over {days} days").format(account=account, days=days),
        (_("{count} snapshots").format(count=len(snapshots)),),
        icon="📈",
        image=image,
    )


@command("/help", N_("This list."))
async def help_(self: Commands, request: Request) -> Reply:
    lines = tuple(f"{c.usage} — {_(c.summary)}" for c in REGISTRY.values())
    return Reply(_("Commands"), lines, icon="📖")
