"""Mute buttons on Slack alerts: a Block Kit `actions` block, and the `block_actions`
interactive payloads a click sends (over Socket Mode, or POSTed to `/slack/interactive`).

A refusal goes only to the person who clicked, as an ephemeral message through the
payload's `response_url`; a mute replaces the message (`replace_original`) with the same
blocks, the buttons swapped for a line saying who muted it until when (one line, replaced
by the next click).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import aiohttp
import msgspec
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ...commands import Commands
from ...commands.access import Caller
from ...commands.buttons import buttons_for, press
from ...models import Notification
from .rendering import slack_escape

log = logging.getLogger(__name__)

BLOCK_ID = "balancebot_mute"
NOTE_ID = "balancebot_mute_note"  # one note, replaced by each click
PATH = "/slack/interactive"


def actions(buttons: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """An actions block of these buttons, or nothing."""
    elements = [
        {
            "type": "button",
            "action_id": f"mute_{i}",
            "text": {"type": "plain_text", "text": label},
            "value": data,
        }
        for i, (label, data) in enumerate(buttons)
    ]
    return [{"type": "actions", "block_id": BLOCK_ID, "elements": elements}] if elements else []


def with_buttons(blocks: list[dict[str, Any]], notification: Notification) -> list[dict[str, Any]]:
    return [*blocks, *actions(buttons_for(notification))]


class _User(msgspec.Struct):
    id: str
    username: str = ""
    name: str = ""


class _Channel(msgspec.Struct):
    id: str


class _Action(msgspec.Struct):
    block_id: str | None = None
    value: str = ""


class _Message(msgspec.Struct):
    text: str = ""
    blocks: list[dict[str, Any]] = []


class Click(msgspec.Struct):
    """The parts of a `block_actions` payload we read, each of the type Slack documents:
    anything else is refused before it is acted on, never half-handled."""

    user: _User
    actions: list[_Action]
    response_url: str = ""
    channel: _Channel | None = None
    message: _Message | None = None


MAX_DEPTH = 64  # Slack's payloads nest about ten deep; Python's json recurses per level
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|([\[{])|[\]}]', re.DOTALL)


def too_deep(text: str, most: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests deeper than `most`, found without parsing it (a parser
    would recurse, and 100,000 levels overflow the stack); strings are skipped whole."""
    depth = 0
    for found in _BRACKETS.finditer(text):
        if found.group(1):
            depth += 1
            if depth > most:
                return True
        elif not found.group(0).startswith('"'):
            depth -= 1
    return False


def click_of(payload: dict[str, Any]) -> Click | None:
    """A click on our mute buttons, None for any other interaction; `ValueError` when
    the payload is not of the documented shape."""
    if payload.get("type") != "block_actions":
        return None
    try:
        click = msgspec.convert(payload, Click)
    except msgspec.ValidationError as exc:
        raise ValueError(f"a block_actions payload of the wrong shape: {exc}") from None
    return click if any(a.block_id == BLOCK_ID for a in click.actions) else None


async def on_interactive(
    commands: Commands, payload: dict[str, Any], session: aiohttp.ClientSession
) -> None:
    """Socket Mode: one interactive payload, already parsed by slack-sdk and acknowledged;
    one of the wrong shape is dropped with a DEBUG line."""
    try:
        click = click_of(payload)
    except ValueError as exc:
        log.debug("slack buttons: ignored %s", exc)
        return
    if click is not None:
        await on_click(commands, click, session)


def is_direct(channel: str) -> bool:
    """Slack's direct-message channel ids start with D: the caller's private chat."""
    return channel.startswith("D")


async def on_click(commands: Commands, click: Click, session: aiohttp.ClientSession) -> None:
    """Handle one click on a mute button and answer it through its `response_url`."""
    [value] = [a.value for a in click.actions if a.block_id == BLOCK_ID][:1]
    channel = click.channel.id if click.channel is not None else ""
    caller = Caller(
        "slack",
        click.user.id,
        channel,
        click.user.username or click.user.name,
        private=is_direct(channel),
    )
    pressed = await press(commands, caller, value)
    if pressed.answer is None:  # a stranger already told no: nothing at all
        return
    if not click.response_url:
        log.warning("slack buttons: a click without a response_url")
        return
    message = click.message or _Message()
    if pressed.note is None:
        body: dict[str, Any] = {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": f"⛔ {slack_escape(pressed.answer)}",
        }
    else:
        kept = [b for b in message.blocks if b.get("block_id") not in (BLOCK_ID, NOTE_ID)]
        note = {
            "type": "context",
            "block_id": NOTE_ID,
            "elements": [{"type": "mrkdwn", "text": slack_escape(pressed.note)}],
        }
        blocks = [*kept, note, *actions(pressed.buttons)]
        body = {"replace_original": True, "text": message.text, "blocks": blocks}
    try:
        response = await AsyncWebhookClient(click.response_url, session=session).send_dict(body)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("slack buttons: answering a click failed: %s", type(exc).__name__)
        return
    if response.status_code != 200:
        log.warning("slack buttons: response_url answered HTTP %d", response.status_code)
