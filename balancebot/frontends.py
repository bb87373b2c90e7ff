"""Chat front-end plugins, found through `balancebot.frontends` entry points.

A front-end answers chat commands. It must never gate monitoring: `start` returns at once
and the connection is made (and remade) in the background with capped exponential
backoff, one log line per state change. `stop` is bounded in every state, so SIGTERM
always ends the daemon.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

from msgspec import Struct

from . import plugins
from .clock import Clock
from .config import convert
from .config.values import NoOptions
from .errors import BalanceBotError
from .models import FrontEndState, FrontEndStatus

if TYPE_CHECKING:
    from .commands import Commands
    from .config import Config
    from .httpserver import LoopbackServer
    from .notifiers import Notifier

__all__ = [
    "Demote",
    "FrontEnd",
    "FrontEndContext",
    "FrontEndState",
    "FrontEndStatus",
    "ReconnectBackoff",
    "StatusSource",
    "Supervised",
    "demote",
    "describe_error",
    "frontend_class",
]

log = logging.getLogger(__name__)

N = TypeVar("N", bound="Notifier")

STOP_BUDGET = 5.0  # seconds a front-end may take to stop before it is abandoned


@dataclass(frozen=True)
class FrontEndContext:
    """What a front-end may use: the command layer, the notifiers (for shared clients),
    the clock and, for HTTP-mode front-ends, the daemon's HTTP server."""

    config: Config
    commands: Commands
    notifiers: Mapping[str, Notifier]
    clock: Clock
    server: LoopbackServer | None

    def notifier(self, name: str, kind: type[N]) -> N:
        """The notifier a front-end shares its client with (config checked its type)."""
        notifier = self.notifiers[name]
        if not isinstance(notifier, kind):
            raise TypeError(f"notifier {name!r} is not a {kind.__name__}")
        return notifier


@dataclass(frozen=True)
class ReconnectBackoff:
    """How long a `Supervised` front-end waits before connecting again: doubling from
    `first` up to `cap` seconds."""

    first: float = 1.0
    cap: float = 60.0

    def after(self, delay: float) -> float:
        return min(self.cap, delay * 2)


class FrontEnd(abc.ABC):
    """The contract: built from the config section named like its entry point."""

    name: ClassVar[str]
    single_consumer: ClassVar[bool] = False
    """True where the platform lets one process take the updates (Telegram `getUpdates`):
    with replicas, only the elected leader runs it."""
    Options: ClassVar[type[Struct]] = NoOptions
    """A plugin's `[chat.<name>]` keys, checked when the config loads (unknown keys are
    errors); Telegram's and Slack's sections are typed in the config itself."""

    @classmethod
    def options(cls, context: FrontEndContext) -> Struct:
        """This front-end's `[chat.<name>]` section as its `Options` struct."""
        section = context.config.chat.frontends.get(cls.name, {})
        return convert(section, cls.Options, ("chat", cls.name))

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._status = FrontEndStatus(FrontEndState.STOPPED, clock.now())
        self._changed = asyncio.Event()

    @classmethod
    @abc.abstractmethod
    def build(cls, context: FrontEndContext) -> FrontEnd:
        """From the daemon's context; called only when the config has a section for it."""

    @abc.abstractmethod
    def start(self) -> None:
        """Begin connecting in the background; never waits on the network."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect; bounded in time whatever the state."""

    @property
    def status(self) -> FrontEndStatus:
        return self._status

    def set_state(self, state: FrontEndState, detail: str = "", log_it: bool = True) -> None:
        """Record a state; log it (once) unless told it is a repeat not worth a line."""
        if state is self._status.state and detail == self._status.detail:
            return
        self._status = FrontEndStatus(state, self.clock.now(), detail)
        self._changed.set()
        self._changed = asyncio.Event()
        if log_it:
            level = logging.WARNING if state is FrontEndState.DISCONNECTED else logging.INFO
            log.log(level, "%s commands: %s", self.name, self._status.describe())

    async def wait_state(self, *states: FrontEndState) -> FrontEndStatus:
        """Until the front-end is in one of `states` (for tests and start-up probes)."""
        while self._status.state not in states:
            await self._changed.wait()
        return self._status


class Supervised(FrontEnd):
    """A connection kept up by one background task: connect, wait until it is lost,
    clean up, wait (capped exponential backoff), again, until stopped."""

    backoff = ReconnectBackoff()

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()  # libraries that swallow a cancel still see this

    @abc.abstractmethod
    async def connect(self) -> None:
        """Connect once, or raise; the exception's text says why (no traceback is logged)."""

    @abc.abstractmethod
    async def until_lost(self) -> str:
        """Return, with the reason, once the connection is lost."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Release this attempt's connection; must not raise."""

    def start(self) -> None:
        """Also after `stop` (a replica that lost leadership and won it back)."""
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._supervise(), name=f"{self.name}-front-end")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping.set()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(STOP_BUDGET):
                    await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_BUDGET):
                await self.disconnect()
        self.set_state(FrontEndState.STOPPED)

    async def _supervise(self) -> None:
        """While the same failure repeats, retries are silent: one line when the service
        goes away, one when it is back (or fails differently), none per attempt."""
        delay = self.backoff.first
        said = ""  # the failure last logged
        while not self._stopping.is_set():
            self.set_state(FrontEndState.CONNECTING, log_it=not said)
            try:
                await self.connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure to connect is retried, never fatal
                reason = describe_error(exc)
            else:
                self.set_state(FrontEndState.CONNECTED)
                delay, said = self.backoff.first, ""
                reason = await self.until_lost()
            await self.disconnect()
            detail = f"{reason}; retrying in {delay:g}s (at most every {self.backoff.cap:g}s)"
            self.set_state(FrontEndState.DISCONNECTED, detail, log_it=reason != said)
            said = reason
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = self.backoff.after(delay)


def frontend_class(name: str, where: str = "chat") -> type[FrontEnd]:
    """The chat front-end registered as `name` (`balancebot.frontends` entry points)."""
    cls: type[FrontEnd] = plugins.load(plugins.FRONTENDS, name, f"{where}.{name}")
    return cls


def describe_error(exc: BaseException) -> str:
    """One line: our own errors by their message, others with their class name."""
    text = str(exc).strip().splitlines()
    if isinstance(exc, BalanceBotError) and text:
        return text[0]
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Demote(logging.Filter):
    """Turns a chatty library logger's records into DEBUG lines: the front-end's own
    state lines say what happened, once, instead of a traceback per retry."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def demote(*names: str) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, Demote) for f in logger.filters):
            logger.addFilter(Demote())


StatusSource = Callable[[], Mapping[str, FrontEndStatus]]
