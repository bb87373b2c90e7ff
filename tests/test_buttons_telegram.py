"""Mute buttons on Telegram alerts, through the real PTB Application and Bot."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from balancebot.commands import REFUSAL
from balancebot.daemon import Daemon
from balancebot.models import AlertKey
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.telegram import FakeTelegram
from balancebot.testing.telegram_buttons import html_entities

from .conftest import API_KEY
from .test_chat import (  # noqa: F401 - fixtures
    daemon,
    slack,
    socket_config,
    telegram,
    telegram_front,
)


async def alert(d: Daemon, simulator: DeepSeekSimulator, total: str) -> None:
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", total)})
    await d.pipeline.check("prod")
    await d.dispatcher.deliver_due()


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    markup = message["reply_markup"] or {"inline_keyboard": []}
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


def test_html_becomes_text_and_utf16_entities() -> None:
    text, entities = html_entities("🟠 <b>a &amp; b</b>\n<code>x</code>")
    assert text == "🟠 a & b\nx"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 5},
        {"type": "code", "offset": 9, "length": 1},
    ]


async def test_alert_buttons_mute_and_edit_the_message(
    telegram_front: Any,  # noqa: F811
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    await alert(daemon, simulator, "15.00")
    [sent] = telegram.messages.values()
    labels = [label for label, _ in buttons(sent)]
    assert labels == ["Mute 1h", "Mute 4h", "Mute 24h", "Mute until resolved"]
    assert all(len(data.encode()) <= 64 for _, data in buttons(sent))
    mute_4h = buttons(sent)[1][1]

    # a stranger's click: a refusal to them alone, nothing muted, nothing edited
    await telegram.click(sent["message_id"], mute_4h, user_id=666, username="eve")
    [refusal] = await telegram.wait_answers(1)
    assert refusal == {"id": refusal["id"], "text": REFUSAL, "show_alert": True}
    assert await daemon.store.active_silences(clock.now()) == []

    await telegram.click(sent["message_id"], mute_4h)
    answers = await telegram.wait_answers(2)
    assert answers[1]["text"] == "Muted for 4h 00m" and not answers[1]["show_alert"]
    [edit] = await telegram.wait_edits(1)
    assert edit["text"].startswith("🟠 <b>WARNING: prod")  # the HTML survives the edit
    assert edit["text"].endswith("🔕 Muted by ann until 2026-01-01 04:00:00 UTC")
    [silence] = await daemon.store.active_silences(clock.now())
    assert buttons(edit) == [("Unmute", f"u{silence.id}")]
    assert (silence.account, silence.rule, silence.subject) == ("prod", "low", "CNY")
    assert silence.created_by == "telegram:42" and not silence.until_resolved

    await alert(daemon, simulator, "5.00")  # escalation: muted for 4 hours
    assert len(telegram.messages) == 1

    # a stranger cannot unmute either (told no once already: not answered again, like a
    # command); the owner can, and the escalation goes out at once
    await telegram.click(sent["message_id"], f"u{silence.id}", user_id=666, username="eve")
    await telegram.click(sent["message_id"], f"u{silence.id}")
    answers = await telegram.wait_answers(3)
    assert [(a["text"], a["show_alert"]) for a in answers[2:]] == [("Unmuted", False)]
    assert await daemon.store.active_silences(clock.now()) == []
    edits = await telegram.wait_edits(2)
    assert edits[1]["text"].endswith("Rule: low\n\n🔔 Unmuted by ann")  # the mute note replaced
    assert [label for label, _ in buttons(edits[1])] == [
        "Mute 1h",
        "Mute 4h",
        "Mute 24h",
        "Mute until resolved",
    ]
    assert await daemon.store.active_silences(clock.now()) == []
    await daemon.dispatcher.deliver_due()
    assert "CRITICAL" in list(telegram.messages.values())[1]["text"]


async def test_until_resolved_button_and_no_buttons_on_resolved(
    telegram_front: Any,  # noqa: F811
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    await alert(daemon, simulator, "15.00")
    [sent] = telegram.messages.values()
    await telegram.click(sent["message_id"], buttons(sent)[3][1])
    [edit] = await telegram.wait_edits(1)
    assert edit["text"].endswith("🔕 Muted by ann until resolved")
    await alert(daemon, simulator, "5.00")  # escalation to critical still goes out
    critical = list(telegram.messages.values())[1]
    assert "CRITICAL" in critical["text"] and buttons(critical)
    await alert(daemon, simulator, "50.00")
    resolved = list(telegram.messages.values())[2]
    assert resolved["text"].startswith("✅") and resolved["reply_markup"] is None
    assert await daemon.store.active_silences(clock.now()) == []


async def test_forged_and_foreign_button_data_mute_nothing(
    telegram_front: Any,  # noqa: F811
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    await alert(daemon, simulator, "15.00")
    [sent] = telegram.messages.values()
    from balancebot.commands.buttons import key_ref

    dev_ref = key_ref(AlertKey("dev", "low", "USD"))
    for data in ("m4h:" + "A" * 16, "x; DROP", json.dumps({"a": 1})[:60], f"mur:{dev_ref}"):
        await telegram.click(sent["message_id"], data)
    answers = await telegram.wait_answers(4)
    assert [a["text"] for a in answers] == [
        "No alert for that button that you may mute.",
        "That button is not one of mine.",
        "That button is not one of mine.",
        "No alert for that button that you may mute.",
    ]
    assert all(a["show_alert"] for a in answers)
    assert telegram.edits == []
    assert await daemon.store.active_silences(clock.now()) == []


async def test_no_buttons_without_a_front_end_to_hear_them(
    telegram: FakeTelegram,  # noqa: F811
    clock: FakeClock,
) -> None:
    from balancebot.integrations.telegram.notifier import TelegramNotifier

    from .test_chat import TG_TOKEN
    from .test_notifiers import notification

    notifier = TelegramNotifier.from_options(
        "tg", {"bot_token": TG_TOKEN, "chat_ids": [42], "base_url": telegram.base_url}, clock
    )
    try:
        await notifier.send(notification("prod"), "42")
    finally:
        await notifier.close()
    [sent] = telegram.messages.values()
    assert sent["reply_markup"] is None


async def test_a_full_length_message_keeps_its_text_and_loses_its_buttons(
    telegram_front: Any,  # noqa: F811
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
) -> None:
    await alert(daemon, simulator, "15.00")
    [sent] = telegram.messages.values()
    sent["text"] = "x" * 4090  # as if the alert had filled Telegram's limit
    await telegram.click(sent["message_id"], buttons(sent)[0][1])
    [edit] = await telegram.wait_edits(1)
    assert edit["method"] == "editMessageReplyMarkup" and edit["text"] == "x" * 4090
    assert [label for label, _ in buttons(edit)] == ["Unmute"]


async def test_buttons_can_be_turned_off(
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
) -> None:
    from balancebot.integrations.telegram.frontend import TelegramFrontEnd

    chat = msgspec.structs.replace(daemon.config.chat, buttons=False)
    daemon.commands.config = msgspec.structs.replace(daemon.config, chat=chat)
    notifier = daemon.notifiers["oncall"]
    TelegramFrontEnd(daemon.commands, notifier)  # type: ignore[arg-type]
    assert notifier.show_buttons is False  # type: ignore[attr-defined]
