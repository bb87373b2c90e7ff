"""A card (an alert or a command reply) as Telegram shows it: HTML parse mode."""

from __future__ import annotations

import html

from ...render import Card, fit, with_icon

TELEGRAM_MAX_CHARS = 4096
TELEGRAM_CAPTION_MAX_CHARS = 1024


def telegram_html(card: Card, limit: int = TELEGRAM_MAX_CHARS) -> str:
    """Telegram HTML parse mode: every user-controlled string escaped."""
    head = with_icon(card, f"<b>{html.escape(card.headline)}</b>")
    return fit([head, *(html.escape(d) for d in card.details)], limit)
