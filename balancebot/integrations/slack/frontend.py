"""Slack front-ends for slash commands: Socket Mode (no public URL) and HTTP.

Either way Slack wants an answer within 3 seconds. A reply ready in time goes back in the
acknowledgement itself; a slower one (a balance fetched now from a slow upstream) is
acknowledged empty and posted to the command's `response_url` when it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ...clock import Clock
from ...commands import Commands, Reply
from ...commands.access import Caller
from ...errors import StoreError
from ...httpserver import LoopbackServer
from ...render import slack_blocks, slack_text
from .notifier import SlackNotifier

log = logging.getLogger(__name__)

ACK_BUDGET = 2.0  # seconds to answer in the ack; Slack gives up at 3
REPLAY_WINDOW = 300  # seconds; Slack's signature verifier rejects older timestamps
WATCHDOG_INTERVAL = 10.0


def reply_payload(reply: Reply) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": slack_text(reply), "blocks": slack_blocks(reply)}


def caller_of(fields: dict[str, Any]) -> Caller:
    return Caller(
        "slack",
        str(fields.get("user_id", "")),
        str(fields.get("channel_id", "")),
        str(fields.get("user_name", "")),
    )


async def answer(
    commands: Commands,
    fields: dict[str, Any],
    ack: Callable[[dict[str, Any] | None], Awaitable[None]],
    session: aiohttp.ClientSession,
    web: AsyncWebClient | None,
) -> None:
    """Run a slash command; reply in the ack if quick enough, else via `response_url`.
    A chart is uploaded to the channel with the bot token (the external-upload flow)."""
    text = f"{fields.get('command', '')} {fields.get('text', '')}"
    work = asyncio.ensure_future(commands.handle(caller_of(fields), text))
    try:
        reply = await asyncio.wait_for(asyncio.shield(work), ACK_BUDGET)
    except TimeoutError:
        await ack(None)
        reply = await work
        if reply is None:
            return
        response_url = str(fields.get("response_url", ""))
        if not response_url:
            log.warning("slack commands: a slow reply had no response_url to go to")
        else:
            response = await AsyncWebhookClient(response_url, session=session).send_dict(
                reply_payload(reply)
            )
            if response.status_code != 200:
                log.warning("slack commands: response_url answered HTTP %d", response.status_code)
    else:
        await ack(None if reply is None else reply_payload(reply))  # None: drop silently
    if reply is not None and reply.image is not None and web is not None:
        await upload_chart(web, reply, str(fields.get("channel_id", "")))


async def upload_chart(web: AsyncWebClient, reply: Reply, channel: str) -> None:
    try:
        await web.files_upload_v2(
            channel=channel,
            file=reply.image,
            filename="balance.png",
            title=reply.headline,
            initial_comment=slack_text(reply),
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("slack commands: chart upload to %s failed: %s", channel, exc)


class SlackSocketFrontEnd:
    def __init__(self, commands: Commands, app_token: str, notifier: SlackNotifier) -> None:
        self._commands = commands
        self._app_token = app_token
        self._notifier = notifier
        self._api_base_url = notifier.settings.base_url
        self.client: SocketModeClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Inside the running loop: the client starts tasks in its constructor."""
        self._session = aiohttp.ClientSession()
        self.client = SocketModeClient(
            app_token=self._app_token,
            web_client=AsyncWebClient(base_url=self._api_base_url, session=self._session),
        )
        self.client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]
        await self.client.connect()  # type: ignore[no-untyped-call]
        self._watchdog = asyncio.create_task(self._watch(), name="slack-socket-watchdog")
        log.info("slack commands: connected over Socket Mode")

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self.client is not None:
            await self.client.close()  # type: ignore[no-untyped-call]
        if self._session is not None:
            await self._session.close()

    async def _watch(self) -> None:
        """slack-sdk reconnects by itself; this catches the states it has been seen to miss."""
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL)
            client = self.client
            if client is not None and not client.closed and not await client.is_connected():
                log.warning("slack commands: socket not connected; reconnecting")
                try:
                    await client.connect_to_new_endpoint(force=True)
                except Exception:  # keep watching; the next round tries again
                    log.exception("slack commands: reconnect failed")

    async def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        async def ack(payload: dict[str, Any] | None) -> None:
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
            )

        if request.type != "slash_commands":
            await ack(None)
            return
        assert self._session is not None
        await answer(self._commands, request.payload, ack, self._session, self._notifier.web)


class WallClockSeconds(SignatureClock):
    """slack-sdk's signature clock (epoch seconds) over our clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


def slash_command_route(
    commands: Commands,
    signing_secret: str,
    clock: Clock,
    session: aiohttp.ClientSession,
    notifier: SlackNotifier,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for slash commands over HTTP: verify, then answer."""
    verifier = SignatureVerifier(signing_secret, clock=WallClockSeconds(clock))

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        if not timestamp or not signature or not verifier.is_valid(body, timestamp, signature):
            log.warning("slack commands: rejected a request with a bad or stale signature")
            return web.Response(status=401, text="invalid signature")
        expires = datetime.fromtimestamp(float(timestamp) + REPLAY_WINDOW, UTC)
        try:  # in the store, so a restart does not reopen the window
            first = await commands.store.first_seen(signature, expires, clock.now())
        except StoreError:
            log.warning("slack commands: cannot check for a replay (store trouble); refused")
            return web.Response(status=503, text="store unavailable")
        if not first:  # a valid request sent again within its 5 minutes
            log.warning("slack commands: rejected a replayed request")
            return web.Response(status=401, text="replayed request")
        fields = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        response = web.StreamResponse(status=200)
        answered: dict[str, Any] = {}

        async def ack(payload: dict[str, Any] | None) -> None:
            answered["payload"] = payload
            if payload is None:  # acknowledge now, answer later through response_url
                await response.prepare(request)
                await response.write_eof()

        started = time.perf_counter()
        await answer(commands, fields, ack, session, notifier.web)
        if response.prepared:
            return response
        log.debug("slack commands: answered in %.0f ms", (time.perf_counter() - started) * 1000)
        return web.json_response(answered["payload"])

    return handle


class SlackHttpFrontEnd:
    """Slash commands POSTed to `/slack/commands` on the daemon's HTTP server."""

    PATH = "/slack/commands"

    def __init__(
        self,
        commands: Commands,
        signing_secret: str,
        clock: Clock,
        server: LoopbackServer,
        notifier: SlackNotifier,
    ) -> None:
        self._session = aiohttp.ClientSession()
        server.app.router.add_post(
            self.PATH,
            slash_command_route(commands, signing_secret, clock, self._session, notifier),
        )

    async def start(self) -> None:
        log.info("slack commands: answering on %s", self.PATH)

    async def stop(self) -> None:
        await self._session.close()
