"""A card (an alert or a command reply) as Slack shows it: Block Kit sections in mrkdwn,
with a plain-text fallback for notifications and lock screens."""

from __future__ import annotations

from typing import Any

from ...render import Card, fit, with_icon

SLACK_SECTION_MAX_CHARS = 3000


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(card: Card) -> str:
    """The plain fallback Slack shows in notifications and on lock screens."""
    return with_icon(card, slack_escape(card.headline))


def slack_blocks(card: Card) -> list[dict[str, Any]]:
    details = fit([slack_escape(d) for d in card.details], SLACK_SECTION_MAX_CHARS)
    head = with_icon(card, f"*{slack_escape(card.headline)}*")
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": head[:SLACK_SECTION_MAX_CHARS]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": details or " "}},
    ]
