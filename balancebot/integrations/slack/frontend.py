"""Slack front-ends for slash commands: Socket Mode (no public URL) and HTTP.

Either way Slack wants an answer within 3 seconds. A reply ready in time goes back in the
acknowledgement itself; a slower one (a balance fetched now from a slow upstream) is
acknowledged empty and posted to the command's `response_url` when it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ...commands import Commands, Reply
from ...commands.access import Caller
from ...config import SlackChatConfig
from ...frontends import Demote, FrontEnd, FrontEndContext, Supervised
from ...httpcap import snippet
from . import buttons
from .notifier import SlackNotifier, capped_session
from .rendering import slack_blocks, slack_text

log = logging.getLogger(__name__)

ACK_BUDGET = 2.0  # seconds to answer in the ack; Slack gives up at 3
WATCHDOG_INTERVAL = 5.0  # seconds between checks that the socket is still up
CONNECT_TIMEOUT = 15.0  # seconds for apps.connections.open plus the WebSocket handshake

# slack-sdk logs every failed (re)connect with a traceback; our state lines say it once
SDK_LOG = logging.getLogger("balancebot.integrations.slack.sdk")
SDK_LOG.addFilter(Demote())


def reply_payload(reply: Reply) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": slack_text(reply), "blocks": slack_blocks(reply)}


def caller_of(fields: dict[str, Any]) -> Caller:
    channel = str(fields.get("channel_id", ""))
    return Caller(
        "slack",
        str(fields.get("user_id", "")),
        channel,
        str(fields.get("user_name", "")),
        private=buttons.is_direct(channel),
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


class _SocketModeClient(SocketModeClient):
    """slack-sdk's client, asking `apps.connections.open` once per call. Its own call
    retried a rate limit by recursing after `int(Retry-After)` seconds (`0`: about 1,000
    calls in a third of a second, then `RecursionError`; `1e12`: `ValueError`) and failed
    with `TypeError` on an answer that is not JSON. A failure here is one line, and the
    front-end's backoff decides when to ask again."""

    async def issue_new_wss_url(self) -> str:
        try:
            response = await self.web_client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            data = getattr(exc.response, "data", None)
            error = data.get("error") if isinstance(data, dict) else None
            status = getattr(exc.response, "status_code", 0) or getattr(exc.response, "status", 0)
            said = snippet(str(error)) if error else "an answer that is not Slack's JSON"
            raise ConnectionError(f"apps.connections.open: {said} (HTTP {status})") from None
        url = response.get("url")
        if not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
            raise ConnectionError("apps.connections.open answered no WebSocket URL")
        return url


class SlackModeFrontEnd(FrontEnd):
    """Slash commands over one of Slack's modes (Socket Mode here, HTTP in http.py);
    `plugin.SlackFrontEnd` builds the one `[chat.slack] mode` names."""

    name = "slack"

    @classmethod
    def build(cls, context: FrontEndContext) -> FrontEnd:
        section = context.config.chat.slack
        assert section is not None  # built only when configured
        return cls.for_mode(context, section)

    @classmethod
    def for_mode(cls, context: FrontEndContext, section: SlackChatConfig) -> FrontEnd:
        raise NotImplementedError  # each mode's subclass builds itself


class SlackSocketFrontEnd(SlackModeFrontEnd, Supervised):
    """One `SocketModeClient` per attempt. slack-sdk's own reconnect loop retries forever
    with a traceback every 5 s and cannot be stopped from outside, so a lost
    connection is watched here and replaced under our backoff instead."""

    watch_interval = WATCHDOG_INTERVAL
    connect_timeout = CONNECT_TIMEOUT

    @classmethod
    def for_mode(cls, context: FrontEndContext, section: SlackChatConfig) -> FrontEnd:
        assert section.app_token is not None  # config checks it
        notifier = context.notifier(section.notifier, SlackNotifier)
        return cls(context.commands, section.app_token.get_secret_value(), notifier)

    def __init__(self, commands: Commands, app_token: str, notifier: SlackNotifier) -> None:
        Supervised.__init__(self, notifier.clock)
        self._commands = commands
        self._app_token = app_token
        self._notifier = notifier
        notifier.show_buttons = commands.config.chat.buttons
        self.client: SocketModeClient | None = None
        self._session: aiohttp.ClientSession | None = None

    async def connect(self) -> None:
        """Inside the running loop: the client starts tasks in its constructor."""
        self._session = capped_session()  # apps.connections.open and response_url answers
        self.client = _SocketModeClient(
            app_token=self._app_token,
            logger=SDK_LOG,
            web_client=self._notifier.socket_web_client(self._session),
            auto_reconnect_enabled=False,
        )
        self.client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]
        async with asyncio.timeout(self.connect_timeout):
            self.client.wss_uri = await self.client.issue_new_wss_url()
            await self.client.connect()  # type: ignore[no-untyped-call]

    async def until_lost(self) -> str:
        """slack-sdk replaces the socket itself on a `disconnect` envelope; a socket it
        leaves closed (or whose pings fail) is lost."""
        client = self.client
        assert client is not None
        missed = 0
        while missed < 2:  # one miss may be slack-sdk swapping sockets on a refresh
            await asyncio.sleep(self.watch_interval)
            missed = 0 if await client.is_connected() else missed + 1
        return "socket closed"

    async def disconnect(self) -> None:
        client, session, self.client, self._session = self.client, self._session, None, None
        if client is not None:
            with contextlib.suppress(Exception):  # a broken client has nothing left to close
                await client.close()  # type: ignore[no-untyped-call]
        if session is not None:
            await session.close()

    async def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        async def ack(payload: dict[str, Any] | None) -> None:
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
            )

        if request.type != "slash_commands":
            await ack(None)
            if request.type == "interactive" and self._session is not None:
                await buttons.on_interactive(self._commands, request.payload, self._session)
            return
        assert self._session is not None
        await answer(self._commands, request.payload, ack, self._session, self._notifier.web)
