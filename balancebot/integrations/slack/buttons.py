"""Mute buttons on Slack alerts: a Block Kit `actions` block, and the `block_actions`
interactive payloads a click sends (over Socket Mode, or POSTed to `/slack/interactive`).

A refusal goes only to the person who clicked, as an ephemeral message through the
payload's `response_url`; a mute replaces the message (`replace_original`) with the same
blocks, the buttons swapped for a line saying who muted it until when.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ...commands import Commands
from ...commands.access import Caller
from ...commands.buttons import Pressed, buttons_for, press
from ...i18n import _
from ...models import Notification
from ...render import slack_escape

log = logging.getLogger(__name__)

BLOCK_ID = "balancebot_mute"
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


async def on_interactive(
    commands: Commands, payload: dict[str, Any], session: aiohttp.ClientSession
) -> None:
    """Handle one interactive payload; only clicks on our mute buttons do anything."""
    if payload.get("type") != "block_actions":
        return
    clicked = [a for a in payload.get("actions", []) if a.get("block_id") == BLOCK_ID]
    if not clicked:
        return
    user = payload.get("user") or {}
    channel = payload.get("channel") or {}
    caller = Caller(
        "slack",
        str(user.get("id", "")),
        str(channel.get("id", "")),
        str(user.get("username") or user.get("name") or ""),
    )
    try:
        pressed = await press(commands, caller, str(clicked[0].get("value", "")))
    except Exception:
        log.exception("slack buttons: a click from %s failed", caller.label)
        pressed = Pressed(_("Sorry, that failed; the error is in the bot's log."))
    response_url = str(payload.get("response_url", ""))
    if not response_url:
        log.warning("slack buttons: a click without a response_url")
        return
    message = payload.get("message") or {}
    if pressed.note is None:
        body: dict[str, Any] = {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": f"⛔ {slack_escape(pressed.answer)}",
        }
    else:
        kept = [b for b in message.get("blocks", []) if b.get("block_id") != BLOCK_ID]
        note = {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": slack_escape(pressed.note)}],
        }
        blocks = [*kept, note, *actions(pressed.buttons)]
        body = {"replace_original": True, "text": message.get("text", ""), "blocks": blocks}
    try:
        response = await AsyncWebhookClient(response_url, session=session).send_dict(body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("slack buttons: answering a click failed: %s", type(exc).__name__)
        return
    if response.status_code != 200:
        log.warning("slack buttons: response_url answered HTTP %d", response.status_code)
