"""How a chat command is run: `Commands.handle` checks authorization, parses the text and
calls the registered command; `Reply` is what every front-end sends back.

Commands register themselves with `@command` (the built-in ones are in builtin.py); the
helpers on `Commands` (visible accounts, fresh results, outlook lines) are what they share.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from ..clock import Clock
from ..config import Config
from ..errors import StoreError
from ..i18n import N_, _, ngettext
from ..models import BalanceSnapshot, CheckResult
from ..phrases import outlook
from ..render import fits, human_duration
from ..trends import outlook_since
from .access import Access, Caller, Refusals
from .alerting import UsageError

if TYPE_CHECKING:
    from ..memory import AccountMemory, Checker
    from ..metrics import Metrics
    from ..models import FrontEndStatus
    from ..store import Store

log = logging.getLogger(__package__)  # "balancebot.commands": one logger for the layer

MAX_INPUT_CHARS = 256
MOST_LISTED = (None, 10, 5, 2, 0)  # items a reply lists of each kind: all, fewer until it fits
REFUSAL = N_("Sorry, you are not allowed to use this bot.")


class Outbox(Protocol):
    """What the commands ask of delivery: its permanent problems by target, for `/status`,
    and a wake-up after they queued a notice (a mute's release)."""

    problems: dict[str, str]

    def wake(self) -> None: ...


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


def summarised(items: Sequence[Sequence[str]], most: int | None) -> list[str]:
    """The lines of the first `most` items (None: all), then one line saying how many
    are left out."""
    most = len(items) if most is None else most
    lines = [line for item in items[:most] for line in item]
    if len(items) > most:
        left = len(items) - most
        lines.append(
            "  " + ngettext("… and {count} more", "… and {count} more", left).format(count=left)
        )
    return lines


def fitted(reply: Callable[[int | None], Reply]) -> Reply:
    """The reply listing as many items of each kind as still fits one message on every
    platform (Telegram's 4,096 characters, Slack's 3,000 a section)."""
    for most in MOST_LISTED[:-1]:
        built = reply(most)
        if fits(built):
            return built
    return reply(MOST_LISTED[-1])


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
        memory: AccountMemory,
        checker: Checker,
        store: Store,
        dispatcher: Outbox,
        access: Access,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.reconfigure(config, access)
        self.memory = memory  # what the checks found: read, never written here
        self.checker = checker  # asked for a check made now, or a re-read
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.metrics = metrics
        self.refusals = Refusals()
        # set by the daemon: each chat front-end's connection state, for /status
        self.front_ends: Callable[[], Mapping[str, FrontEndStatus]] = dict

    def reconfigure(self, config: Config, access: Access) -> None:
        """Answer as `config` says from the next command on (a reload)."""
        self.config = config
        self.access = access
        self.zone = config.zone
        self._outlooks: dict[str, tuple[BalanceSnapshot, list[str]]] = {}  # by account

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
        except StoreError as exc:  # says its cause: one line, as a button click's
            log.error("command /%s from %s failed: %s", name, caller.label, exc)
        except Exception:
            log.exception("command /%s from %s failed", name, caller.label)
        return Reply(_("Sorry, that failed; the error is in the bot's log."), icon="⚠️")

    def _refuse(self, caller: Caller) -> Reply | None:
        return Reply(_(REFUSAL), icon="⛔", best_effort=True) if self.refuse(caller) else None

    def refuse(self, caller: Caller) -> bool:
        """Whether to tell a stranger no (commands and button clicks alike): once per chat
        per period, then silence, so a flood costs neither sends nor log lines nor the
        allowed users' rate budget."""
        answer = self.refusals.should_answer(caller, self.clock.now())
        if self.metrics is not None:
            outcome = "answered" if answer else "dropped"
            self.metrics.commands_refused.labels(caller.platform, outcome).inc()
        if not answer:
            log.debug("dropped a request from %s in chat %s", caller.label, caller.chat_id)
            return False
        log.warning(
            "refused %s user %s (%s) in chat %s%s",
            caller.platform,
            caller.user_id,
            caller.name or "?",
            caller.chat_id,
            "" if caller.private else " (a group: allow rules need the user AND the chat)",
        )
        return True

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
        history = [r for r in self.memory.recent(result.account) if isinstance(r, BalanceSnapshot)]
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
            await self.checker.refresh(account)
            latest = self.memory.latest(account)
            if latest is not None:
                return latest, _("checked {ago}").format(ago=self.ago(latest.taken_at))
        latest = self.memory.latest(account)
        max_age = self.config.chat.balance_max_age
        if isinstance(latest, BalanceSnapshot) and self.clock.now() - latest.taken_at <= max_age:
            return latest, _("checked {ago}").format(ago=self.ago(latest.taken_at))
        return await self.checker.check_now(account), _("checked now")
