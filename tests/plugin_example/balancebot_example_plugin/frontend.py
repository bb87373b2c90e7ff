"""Acme Chat front-end: long-polls `GET {url}/api/updates` for what people typed and
answers each command in the same channel, through the notifier's client (one per token).

The contract (`balancebot.FrontEnd`, here its `Supervised` form): `start` returns at once
and the connection is kept up in the background, so a chat outage never gates the checks;
`stop` is bounded. Every command goes to `Commands.handle`, which decides who may ask what
(`[[chat.allow]]`): the front-end never filters callers itself.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from msgspec import Struct

from balancebot import Caller, Commands, DeliveryError, FrontEndContext, Reply, Supervised

from .notifier import AcmeChatNotifier

log = logging.getLogger(__name__)

POLL_SECONDS = 25  # the server holds a poll this long when nothing is said


class AcmeChatFrontEndOptions(Struct, frozen=True, forbid_unknown_fields=True):
    """`[chat.acmechat]`: the `acmechat` notifier whose token and channels answer."""

    notifier: str


class AcmeChatFrontEnd(Supervised):
    name = "acmechat"
    Options = AcmeChatFrontEndOptions
    single_consumer = True  # polling confirms updates: with replicas, only the leader polls

    def __init__(self, commands: Commands, notifier: AcmeChatNotifier) -> None:
        super().__init__(notifier.clock)
        self._commands = commands
        self._notifier = notifier
        self._after = 0  # the last update handled; polling past it confirms it
        self._poller: asyncio.Task[str] | None = None

    @classmethod
    def build(cls, context: FrontEndContext) -> AcmeChatFrontEnd:
        options = cls.options(context)
        assert isinstance(options, AcmeChatFrontEndOptions)
        # the config checked that it names an `acmechat` notifier
        return cls(context.commands, context.notifier(options.notifier, AcmeChatNotifier))

    async def connect(self) -> None:
        await self._poll(hold=0)  # a bad token or an unreachable service raises here
        self._poller = asyncio.create_task(self._run(), name="acmechat-poller")

    async def until_lost(self) -> str:
        assert self._poller is not None
        return await self._poller

    async def disconnect(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None and not poller.done():
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)

    async def _run(self) -> str:
        """Poll and answer until the service fails; return why."""
        while True:
            try:
                await self._poll(hold=POLL_SECONDS)
            except Exception as exc:  # refused, timed out, garbage: reconnect with backoff
                return f"{type(exc).__name__}: {exc}"

    async def _poll(self, hold: int) -> None:
        """One long poll: the server holds it up to `hold` seconds; ours waits 10 more."""
        response = await self._notifier.http.get(
            "/api/updates",
            params={"after": self._after, "timeout": hold},
            timeout=httpx.Timeout(hold + 10.0, connect=5.0),
        )
        response.raise_for_status()
        for update in response.json()["updates"]:
            self._after = max(self._after, int(update["id"]))
            await self._answer(update)

    async def _answer(self, update: dict[str, str]) -> None:
        caller = Caller("acmechat", str(update["user"]), str(update["channel"]))
        reply = await self._commands.handle(caller, str(update["text"]))
        if reply is None:  # the command layer chose silence (a stranger already told no)
            return
        try:
            await self._notifier.post(caller.chat_id, render(reply), reply_to=update["id"])
        except DeliveryError as exc:  # a person can ask again; the poll goes on
            log.warning("acmechat: could not answer in %s: %s", caller.chat_id, exc)


def render(reply: Reply) -> str:
    """Acme Chat shows plain text: the icon and headline, then the details."""
    return "\n".join([f"{reply.icon} {reply.headline}".strip(), *reply.details])
