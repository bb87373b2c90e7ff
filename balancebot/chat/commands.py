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
from ..models import AlertStatus, BalanceSnapshot, CheckResult
from ..render import balance_lines, human_duration, local_time
from .access import Access, Caller

if TYPE_CHECKING:
    from ..dispatcher import Dispatcher
    from ..pipeline import CheckPipeline
    from ..store import Store

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 256
MAX_MUTE = timedelta(days=30)
REFUSAL = "Sorry, you are not allowed to use this bot."


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


def command(usage: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        name = usage.split()[0].lstrip("/")
        summary = (handler.__doc__ or "").strip().splitlines()[0]
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
            return Reply(REFUSAL, icon="⛔")
        if len(text) > MAX_INPUT_CHARS:
            return Reply(f"That is too long (at most {MAX_INPUT_CHARS} characters).", icon="⚠️")
        name, args = parse(text)
        found = REGISTRY.get(name)
        if found is None:
            return Reply(f"Unknown command. Try: {', '.join('/' + n for n in REGISTRY)}", icon="❓")
        request = Request(caller, args, accounts, accounts == self.access.all_accounts)
        try:
            return await found.handler(self, request)
        except UsageError as exc:
            return Reply(f"Usage: {found.usage}", (str(exc),) if str(exc) else (), icon="❓")
        except Exception:
            log.exception("command /%s from %s failed", name, caller.label)
            return Reply("Sorry, that failed; the error is in the bot's log.", icon="⚠️")

    def visible_accounts(self, request: Request) -> list[str]:
        """The caller's accounts in config order."""
        return [a.name for a in self.config.accounts if a.name in request.accounts]

    def pick_account(self, request: Request, name: str) -> str:
        if name not in request.accounts:  # same answer whether it exists or not
            raise UsageError(f"no account {name!r} that you may see")
        return name

    def ago(self, moment: datetime) -> str:
        span = self.clock.now() - moment
        return "just now" if span < timedelta(seconds=1) else f"{human_duration(span)} ago"

    async def fresh_result(self, account: str) -> tuple[CheckResult, str]:
        """A snapshot younger than `chat.balance_max_age`, or a check made now."""
        latest = self.pipeline.latest(account)
        max_age = self.config.chat.balance_max_age
        if isinstance(latest, BalanceSnapshot) and self.clock.now() - latest.taken_at <= max_age:
            return latest, f"checked {self.ago(latest.taken_at)}"
        outcome = await self.pipeline.check(account)
        return outcome.result, "checked now"


@command("/balance [account]")
async def balance(self: Commands, request: Request) -> Reply:
    """Current balances (fetched now if the last check is too old)."""
    if len(request.args) > 1:
        raise UsageError("name at most one account")
    names = (
        [self.pick_account(request, request.args[0])]
        if request.args
        else (self.visible_accounts(request))
    )
    details = []
    for name in names:
        result, freshness = await self.fresh_result(name)
        unavailable = isinstance(result, BalanceSnapshot) and not result.is_available
        state = " — NOT AVAILABLE for API calls" if unavailable else ""
        details.append(f"{name} ({freshness}){state}:")
        details += [f"  {line}" for line in balance_lines(result)]
    headline = f"Balance of {names[0]}" if len(names) == 1 else "Balances"
    return Reply(headline, tuple(details), icon="💰")


@command("/status")
async def status(self: Commands, request: Request) -> Reply:
    """Last checks, open alerts, silences and notifier health."""
    if request.args:
        raise UsageError("/status takes no arguments")
    now = self.clock.now()
    details = ["Accounts:"]
    for name in self.visible_accounts(request):
        latest = self.pipeline.latest(name)
        if latest is None:
            details.append(f"  {name}: not checked yet")
        elif isinstance(latest, BalanceSnapshot):
            details.append(f"  {name}: ok, {self.ago(latest.taken_at)}")
        else:
            details.append(f"  {name}: FAILED ({latest.kind.value}), {self.ago(latest.taken_at)}")
    firing = [
        s
        for s in self.pipeline.states().values()
        if s.status is AlertStatus.FIRING and s.key.account in request.accounts
    ]
    details.append(f"Alerts firing: {len(firing) or 'none'}")
    for state in sorted(firing, key=lambda s: s.key):
        assert state.severity is not None and state.started_at is not None
        subject = f" {state.key.subject}" if state.key.subject else ""
        details.append(
            f"  {state.key.account} {state.key.rule}{subject}: {state.severity.label}, "
            f"since {local_time(state.started_at, self.zone)}"
        )
    silences = [
        s
        for s in await self.store.active_silences(now)
        if (s.account in request.accounts) or (s.account is None and request.full_access)
    ]
    details.append(f"Muted: {len(silences) or 'nothing'}")
    for silence in silences:
        what = " / ".join(x for x in (silence.account, silence.rule) if x) or "everything"
        details.append(
            f"  {what} until {local_time(silence.until, self.zone)} (by {silence.created_by})"
        )
    if request.full_access:
        details.append("Notifiers:")
        for notifier in self.config.notifiers:
            problems = [
                f"{where}: {why}"
                for where, why in self.dispatcher.problems.items()
                if where.split(":", 1)[0] == notifier.name
            ]
            details.append(f"  {notifier.name}: " + ("; ".join(problems) or "ok"))
    headline = f"Status: {len(firing)} alert(s) firing" if firing else "Status: all clear"
    return Reply(headline, tuple(details), icon="🔴" if firing else "✅")


def _mute_target(
    self: Commands, request: Request, args: list[str]
) -> tuple[str | None, str | None]:
    """(account, rule) a mute names; muting a rule or everything needs access to all."""
    if not args:
        if not request.full_access:
            raise UsageError("name one of your accounts")
        return None, None
    if len(args) > 1:
        raise UsageError("name one account or one rule")
    target = args[0]
    if target in request.accounts:
        return target, None
    if request.full_access and target in {r.name for r in self.config.rules}:
        return None, target
    raise UsageError(f"no account or rule {target!r} that you may mute")


@command("/mute <duration> [account|rule]")
async def mute(self: Commands, request: Request) -> Reply:
    """Silence alerts for a while (e.g. /mute 2h prod)."""
    if not request.args:
        raise UsageError("say for how long, e.g. /mute 2h prod")
    try:
        span = parse_duration(request.args[0])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if span > MAX_MUTE:
        raise UsageError("at most 30d")
    account, rule = _mute_target(self, request, request.args[1:])
    now = self.clock.now()
    silence = await self.store.add_silence(account, rule, now + span, request.caller.label, now)
    what = account or (f"rule {rule}" if rule else "all alerts")
    log.info("%s muted %s for %s", request.caller.label, what, human_duration(span))
    return Reply(
        f"Muted {what} for {human_duration(span)}",
        (f"Until {local_time(silence.until, self.zone)}. /unmute ends it sooner.",),
        icon="🔕",
    )


@command("/unmute [account|rule]")
async def unmute(self: Commands, request: Request) -> Reply:
    """End a mute set with /mute."""
    account, rule = _mute_target(self, request, request.args)
    ended = await self.store.end_silences(account, rule, self.clock.now())
    what = account or (f"rule {rule}" if rule else "all alerts")
    if not ended:
        return Reply(f"Nothing was muted for {what}", icon="🔔")
    log.info("%s unmuted %s", request.caller.label, what)
    return Reply(f"Unmuted {what}", icon="🔔")


@command("/history [account] [days]")
async def history(self: Commands, request: Request) -> Reply:
    """A chart of the balance over the last days (default 30)."""
    from ..charts import ChartsUnavailable, plot_history  # matplotlib only when asked

    names, days = [], 30
    for arg in request.args:
        if arg.isdigit():
            days = int(arg)
        else:
            names.append(self.pick_account(request, arg))
    if len(names) > 1 or not 1 <= days <= 365:
        raise UsageError("one account, and 1 to 365 days")
    account = names[0] if names else self.visible_accounts(request)[0]
    snapshots = await self.store.history(account, self.clock.now() - timedelta(days=days))
    thresholds = self.config.thresholds_for(account)
    try:
        image = await asyncio.to_thread(
            plot_history, snapshots, account, days, self.zone, thresholds
        )
    except ChartsUnavailable as exc:
        return Reply(str(exc), icon="📉")
    return Reply(
        f"{account}: balance over {days} days",
        (f"{len(snapshots)} snapshots",),
        icon="📈",
        image=image,
    )


@command("/help")
async def help_(self: Commands, request: Request) -> Reply:
    """This list."""
    lines = tuple(f"{c.usage} — {c.summary}" for c in REGISTRY.values())
    return Reply("Commands", lines, icon="📖")
