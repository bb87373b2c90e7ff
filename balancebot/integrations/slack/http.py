"""Slack slash commands over HTTP, on the daemon's own server.

Unauthenticated input is hostile until the signature says otherwise: malformed headers,
bodies and encodings get a 400/401 and one DEBUG line, never a 500 with a traceback.
Work that outlives the 200 acknowledgement runs in a detached task the front-end tracks,
so a client (nginx) closing the connection after the ack does not cancel the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier

from ...clock import Clock
from ...commands import Commands
from ...config import SlackChatConfig
from ...errors import StoreError
from ...frontends import FrontEnd, FrontEndContext, FrontEndState
from ...httpserver import UNREADABLE_BODY, LoopbackServer
from . import buttons
from .frontend import SlackModeFrontEnd, answer
from .notifier import SlackNotifier, capped_session

log = logging.getLogger(__name__)

REPLAY_WINDOW = 300  # seconds; Slack's signature verifier rejects older timestamps
BODY_TIMEOUT = 10.0  # seconds to receive a slash command's (small) body
DRAIN_BUDGET = 5.0  # seconds on shutdown for replies still being worked on
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class WallClockSeconds(SignatureClock):
    """slack-sdk's signature clock (epoch seconds) over our clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def read_body(request: web.Request) -> bytes:
    """The raw body, or `Rejected`: slow, oversized, or in an encoding we cannot undo."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            return await request.read()
    except TimeoutError:
        raise Rejected(400, "body not received in time") from None
    except web.HTTPException as exc:  # too large
        raise Rejected(exc.status, exc.reason) from None
    except UNREADABLE_BODY as exc:
        raise Rejected(400, f"unreadable body ({type(exc).__name__})") from None


Verified = Callable[[web.Request], Awaitable[dict[str, Any]]]
"""A request's form fields once its signature checked out, else `Rejected`."""


def request_verifier(commands: Commands, signing_secret: str, clock: Clock) -> Verified:
    """Slack's request signing, one for slash commands and button clicks alike."""
    verifier = SignatureVerifier(signing_secret, clock=WallClockSeconds(clock))

    async def verified(request: web.Request) -> dict[str, Any]:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(signature):
            raise Rejected(401, "missing or malformed signature headers")
        try:
            body = (await read_body(request)).decode("utf-8")  # slack-sdk would raise on it
        except UnicodeDecodeError:
            raise Rejected(400, "body is not UTF-8") from None
        if not verifier.is_valid(body, timestamp, signature):
            raise Rejected(401, "bad or stale signature")
        expires = datetime.fromtimestamp(float(timestamp) + REPLAY_WINDOW, UTC)
        try:  # in the store, so a restart does not reopen the window
            first = await commands.store.first_seen(signature, expires, clock.now())
        except StoreError:
            log.warning("slack commands: cannot check for a replay (store trouble); refused")
            raise Rejected(503, "store unavailable") from None
        if not first:  # a valid request sent again within its 5 minutes
            raise Rejected(401, "replayed request")
        return dict(parse_qsl(body, keep_blank_values=True))

    return verified


def slash_command_route(
    commands: Commands,
    verified: Verified,
    session: aiohttp.ClientSession,
    notifier: SlackNotifier,
    spawn: Callable[[Awaitable[None]], asyncio.Future[None]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for slash commands over HTTP: verify, then answer."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            fields = await verified(request)
        except Rejected as exc:
            log.debug("slack commands: rejected a request (%d): %s", exc.status, exc)
            return web.Response(status=exc.status, text="invalid request")
        acked: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()

        async def ack(payload: dict[str, Any] | None) -> None:
            if not acked.done():
                acked.set_result(payload)

        async def work() -> None:
            try:
                await answer(commands, fields, ack, session, notifier.web)
            finally:
                if not acked.done():  # failed before answering: a plain 500, logged below
                    acked.set_exception(web.HTTPInternalServerError())

        started = time.perf_counter()
        spawn(work())  # detached: survives the client going away after the ack
        payload = await asyncio.shield(acked)
        log.debug("slack commands: acknowledged in %.0f ms", (time.perf_counter() - started) * 1000)
        if payload is None:  # answered later through response_url
            return web.Response(status=200)
        return web.json_response(payload)

    return handle


def interactive_route(
    commands: Commands,
    verified: Verified,
    session: aiohttp.ClientSession,
    spawn: Callable[[Awaitable[None]], asyncio.Future[None]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`/slack/interactive`: button clicks, signature-checked like slash commands, their
    JSON in the form field `payload`. Acknowledged with an empty 200 at once; the answer
    goes to the payload's `response_url` from a detached task."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            fields = await verified(request)
        except Rejected as exc:
            log.debug("slack buttons: rejected a request (%d): %s", exc.status, exc)
            return web.Response(status=exc.status, text="invalid request")
        text = fields.get("payload", "")
        try:
            if buttons.too_deep(text):
                raise ValueError(f"payload nested deeper than {buttons.MAX_DEPTH}")
            payload = json.loads(text)
            if not isinstance(payload, dict):
                raise ValueError("payload is not a JSON object")
            click = buttons.click_of(payload)
        except ValueError as exc:  # json's errors are ValueErrors too
            log.debug("slack buttons: rejected a request (400): %s", str(exc)[:200])
            return web.Response(status=400, text="invalid payload")
        if click is not None:
            spawn(buttons.on_click(commands, click, session))
        return web.Response(status=200)

    return handle


class SlackHttpFrontEnd(SlackModeFrontEnd):
    """Slash commands POSTed to `/slack/commands` on the daemon's HTTP server; "connected"
    as soon as it is routed (the server itself is started by the daemon)."""

    PATH = "/slack/commands"

    @classmethod
    def for_mode(cls, context: FrontEndContext, section: SlackChatConfig) -> FrontEnd:
        assert section.signing_secret is not None and context.server is not None
        notifier = context.notifier(section.notifier, SlackNotifier)
        secret = section.signing_secret.get_secret_value()
        return cls(context.commands, secret, context.clock, context.server, notifier)

    def __init__(
        self,
        commands: Commands,
        signing_secret: str,
        clock: Clock,
        server: LoopbackServer,
        notifier: SlackNotifier,
    ) -> None:
        super().__init__(clock)
        self._session = capped_session()  # response_url answers are read with a cap
        self._tasks: set[asyncio.Task[None]] = set()
        verified = request_verifier(commands, signing_secret, clock)
        server.app.router.add_post(
            self.PATH,
            slash_command_route(commands, verified, self._session, notifier, self._spawn),
        )
        server.app.router.add_post(
            buttons.PATH, interactive_route(commands, verified, self._session, self._spawn)
        )
        notifier.show_buttons = commands.config.chat.buttons

    def _spawn(self, work: Awaitable[None]) -> asyncio.Future[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack commands: a reply failed", exc_info=task.exception())

    @property
    def pending(self) -> int:
        """Replies still being worked on (detached from their requests)."""
        return len(self._tasks)

    def start(self) -> None:
        self.set_state(FrontEndState.CONNECTED, f"answering on {self.PATH}")

    async def stop(self) -> None:
        """Let replies in progress finish for a moment, then cancel the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_BUDGET)
        for task in set(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._session.close()
        self.set_state(FrontEndState.STOPPED)
