"""Mute buttons at the edges (issue 21 §2): repeated and concurrent clicks keep one mute,
Unmute ends them all and the message tells the truth, strangers' clicks share the
commands' refusal limiter, a broken store is answered, and Slack payloads of the wrong
shape are refused before anything is done."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from balancebot.commands import REFUSAL
from balancebot.commands.access import Caller
from balancebot.commands.buttons import key_ref, press
from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.integrations.slack import buttons as slack_buttons
from balancebot.integrations.slack.http import SlackHttpFrontEnd
from balancebot.models import AlertKey
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from .conftest import API_KEY, SUMMARY
from .test_buttons_slack import values
from .test_buttons_telegram import alert, buttons
from .test_chat import (  # noqa: F401 - fixtures
    STRANGER,
    chat_config,
    daemon,
    http_daemon,
    signed,
    slack,
    socket_config,
    telegram,
    telegram_front,
)

OWNER = Caller("telegram", "42", "42", "ann", private=True)
KEY = AlertKey("prod", "low", "CNY")
FAILED = "Sorry, that failed; the error is in the bot's log."


@pytest.fixture
async def sent(
    telegram_front: Any,  # noqa: F811
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
) -> dict[str, Any]:
    """An alert sent to Telegram with its mute buttons, a front-end hearing the clicks."""
    await alert(daemon, simulator, "15.00")
    [message] = telegram.messages.values()
    return message


async def test_repeated_clicks_keep_one_mute_and_unmute_ends_every_one(
    sent: dict[str, Any],
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    clock: FakeClock,
) -> None:
    """On main 300 presses made 303 silences, and Unmute ended one of them."""
    data = dict(buttons(sent))
    presses = ["Mute 1h"] * 20 + ["Mute 4h", "Mute 1h"]
    for label in presses:
        await telegram.click(sent["message_id"], data[label])
    answers = await telegram.wait_answers(len(presses))
    [silence] = await daemon.store.active_silences(clock.now())
    assert silence.until == clock.now() + timedelta(hours=4)  # extended, never shortened
    assert [a["text"] for a in answers[-2:]] == [
        "Muted for 4h 00m",
        "Already muted until 2026-01-01 04:00:00 UTC",
    ]
    shown = telegram.messages[sent["message_id"]]  # each click carried the first message
    assert shown["text"].count("🔕") == 1  # one note, not one per click
    assert shown["text"].endswith("🔕 Muted by ann until 2026-01-01 04:00:00 UTC")
    assert buttons(shown) == [("Unmute", f"u{silence.id}")]
    edits = len(telegram.edits)

    # a second button mute of the same alert, as two clicks on main left behind
    await daemon.store.add_silence(
        "prod", "low", clock.now() + timedelta(hours=1), "telegram:7", clock.now(), "", "CNY"
    )
    await telegram.click(sent["message_id"], f"u{silence.id}")
    answers = await telegram.wait_answers(len(presses) + 1)
    assert answers[-1]["text"] == "Unmuted"
    assert await daemon.store.active_silences(clock.now()) == []
    edit = (await telegram.wait_edits(edits + 1))[-1]
    assert edit["text"].endswith("Rule: low\n\n🔔 Unmuted by ann")
    assert next(label for label, _ in buttons(edit)) == "Mute 1h"


async def test_unmute_says_so_when_another_mute_still_holds_the_alert(
    sent: dict[str, Any],
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    clock: FakeClock,
) -> None:
    await telegram.click(sent["message_id"], dict(buttons(sent))["Mute 1h"])
    await telegram.wait_edits(1)
    reply = await daemon.commands.handle(OWNER, "/mute 2h prod")
    assert reply is not None and reply.headline == "Muted prod for 2h 00m"
    [button_mute] = [s for s in await daemon.store.active_silences(clock.now()) if s.subject]
    await telegram.click(sent["message_id"], f"u{button_mute.id}")
    answers = await telegram.wait_answers(2)
    assert answers[1]["text"] == "Unmuted; still muted by another mute"
    [_, edit] = await telegram.wait_edits(2)
    assert edit["text"].endswith(
        "\n\n🔕 Unmuted by ann, but still muted until 2026-01-01 02:00:00 UTC"
        " by a mute of its account or rule"
    )
    assert buttons(edit) == []  # no mute buttons while it is muted anyway
    [left] = await daemon.store.active_silences(clock.now())
    assert left.subject is None


@pytest.fixture
async def any_store_daemon(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,  # noqa: F811
    slack: FakeSlack,  # noqa: F811
    clock: FakeClock,
    store_url: str,
) -> AsyncIterator[Daemon]:
    config = chat_config(
        make_config,
        simulator,
        telegram,
        slack,
        {"mode": "socket", "app_token": "xapp-1-chat-test"},
        store={"url": store_url},
    )
    simulator.add_account(f"{API_KEY}-dev", {"USD": ("2.00", "3.00")})
    async with Daemon.open(config, clock) as opened:
        yield opened


async def test_concurrent_clicks_make_one_mute(
    any_store_daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    """Clicks at once (a team pressing together, or replicas on one PostgreSQL) lock the
    alert's row: one mute, whichever order they land in."""
    d = any_store_daemon
    await alert(d, simulator, "15.00")
    data = f"m1h:{key_ref(KEY)}"
    callers = [Caller("telegram", "42", "42", f"user{n}", private=True) for n in range(10)]
    pressed = await asyncio.gather(*(press(d.commands, c, data) for c in callers))
    assert {p.buttons for p in pressed} == {pressed[0].buttons}  # the same Unmute for all
    assert len(await d.store.active_silences(clock.now())) == 1
    [(_, unmute)] = pressed[0].buttons
    await d.store.add_silence(  # a second one, as concurrent clicks on main left behind
        "prod", "low", clock.now() + timedelta(hours=2), "telegram:7", clock.now(), "", "CNY"
    )
    ended = await press(d.commands, callers[0], unmute)
    assert (ended.answer, ended.note) == ("Unmuted", "🔔 Unmuted by user0")
    assert await d.store.active_silences(clock.now()) == []


async def test_stranger_clicks_share_the_commands_refusal_limiter(
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main 300 stranger clicks were 300 WARNING lines and 300 answers."""
    await alert(daemon, simulator, "15.00")
    caplog.set_level(logging.DEBUG, "balancebot")
    data = f"m1h:{key_ref(KEY)}"
    told = [(await press(daemon.commands, STRANGER, data)).answer for _ in range(300)]
    SUMMARY["unauthorized requests tried"] += 300
    assert told[0] == REFUSAL and told[1:] == [None] * 299
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    # and a command from that chat afterwards is not answered either: one limiter
    assert await daemon.commands.handle(STRANGER, "/status") is None


async def test_a_click_while_the_store_is_broken_is_answered_and_logged(
    sent: dict[str, Any],
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main the click got no answer and no log line (PTB's logger is demoted)."""
    SUMMARY["fault cases tried"] += 1
    (tmp_path / "state.db").unlink()
    caplog.set_level(logging.INFO, "balancebot")
    await telegram.click(sent["message_id"], dict(buttons(sent))["Mute 4h"])
    [answer] = await telegram.wait_answers(1)
    assert answer["text"] == FAILED and answer["show_alert"]
    lines = [r for r in caplog.records if r.name == "balancebot.commands.buttons"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert lines[0].getMessage().startswith("a button click from telegram:42 failed: cannot")
    assert lines[0].exc_info is None
    assert telegram.edits == []


BAD_SHAPES: dict[str, Callable[[dict[str, Any]], object]] = {
    "actions a string": lambda p: {**p, "actions": "mute"},
    "user a string": lambda p: {**p, "user": "U1"},
    "channel a list": lambda p: {**p, "channel": ["C1"]},
    "message a string": lambda p: {**p, "message": "hello"},
    "value a number": lambda p: {**p, "actions": [{**p["actions"][0], "value": 7}]},
    "blocks not objects": lambda p: {**p, "message": {**p["message"], "blocks": [1]}},
}


async def post_payloads(base: str, texts: list[str], clock: FakeClock) -> list[int]:
    """POST each as a signed interactive request; the HTTP statuses."""
    now = int(clock.now().timestamp())
    statuses = []
    async with aiohttp.ClientSession() as session:
        for text in texts:
            body = urlencode({"payload": text}).encode()
            async with session.post(
                f"{base}/slack/interactive", data=body, headers=signed(body, now)
            ) as response:
                statuses.append(response.status)
    return statuses


async def test_slack_payloads_of_the_wrong_shape_are_refused_before_acting(
    http_daemon: tuple[Daemon, str],  # noqa: F811
    slack: FakeSlack,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main: a 500 with a RecursionError traceback for deep nesting, tracebacks from a
    detached task for wrong types, and a mute recorded but never answered."""
    d, base = http_daemon
    await alert(d, simulator, "15.00")
    [posted] = slack.posted
    good = slack.block_actions(posted["ts"], values(posted)[0])
    texts = [json.dumps(bad(good)) for bad in BAD_SHAPES.values()]
    texts += ["[" * 100_000 + "]" * 100_000, '{"type": "block_actions", "a":' + "[" * 70]
    caplog.set_level(logging.DEBUG, "balancebot")
    SUMMARY["malformed inputs tried"] += len(texts)
    assert await post_payloads(base, texts, clock) == [400] * len(texts)
    assert await d.store.active_silences(clock.now()) == []
    assert slack.replaced == [] and slack.ephemeral == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    lines = [r.getMessage() for r in caplog.records if "rejected a request (400)" in r.getMessage()]
    assert len(lines) == len(texts)


async def test_socket_mode_payloads_of_the_wrong_shape_are_dropped(
    daemon: Daemon,  # noqa: F811
    slack: FakeSlack,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await alert(daemon, simulator, "15.00")
    [posted] = slack.posted
    good = slack.block_actions(posted["ts"], values(posted)[0])
    caplog.set_level(logging.DEBUG, "balancebot")
    async with aiohttp.ClientSession() as session:
        for bad in BAD_SHAPES.values():
            payload = bad(good)
            assert isinstance(payload, dict)
            await slack_buttons.on_interactive(daemon.commands, payload, session)
    assert await daemon.store.active_silences(clock.now()) == []
    assert slack.replaced == [] and slack.ephemeral == []
    ignored = [r for r in caplog.records if "ignored a block_actions payload" in r.getMessage()]
    assert len(ignored) == len(BAD_SHAPES) and all(r.levelno == logging.DEBUG for r in ignored)


async def test_slack_stranger_clicks_get_one_answer(
    http_daemon: tuple[Daemon, str],  # noqa: F811
    slack: FakeSlack,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main 500 stranger clicks were 500 WARNING lines and 500 response_url posts."""
    d, base = http_daemon
    await alert(d, simulator, "15.00")
    [posted] = slack.posted
    caplog.set_level(logging.DEBUG, "balancebot")
    texts = []
    for _ in range(50):
        payload = slack.block_actions(posted["ts"], values(posted)[0], user_id="U9")
        payload["channel"]["id"] = "C9"  # not an allowed channel
        texts.append(json.dumps(payload))
    assert await post_payloads(base, texts, clock) == [200] * 50
    SUMMARY["unauthorized requests tried"] += 50
    front = next(f for f in d.front_ends if isinstance(f, SlackHttpFrontEnd))
    await front.stop()  # lets the detached answers finish
    assert len(slack.ephemeral) == 1 and slack.ephemeral[0]["text"] == f"⛔ {REFUSAL}"
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    assert await d.store.active_silences(clock.now()) == []


def test_nesting_is_measured_without_parsing() -> None:
    assert slack_buttons.too_deep("[" * 100_000)
    assert not slack_buttons.too_deep('{"a": "[[[[[[[[[[[[[[[[[[[[\\"[[["}', most=2)
    assert slack_buttons.too_deep("[[[1]]]", most=2) and not slack_buttons.too_deep("[[1]]", 2)
