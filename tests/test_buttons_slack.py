"""Mute buttons on Slack alerts: Block Kit buttons, `block_actions` over Socket Mode
(the real SocketModeClient) and over HTTP (`/slack/interactive`, signed), against the fake."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec

from balancebot.commands import REFUSAL
from balancebot.commands.access import Access
from balancebot.config import AllowRule
from balancebot.daemon import Daemon
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.slack import FakeSlack

from .test_buttons_telegram import alert
from .test_chat import (  # noqa: F401 - fixtures
    daemon,
    http_daemon,
    signed,
    slack,
    socket_config,
    socket_front,
    telegram,
)


def values(message: dict[str, Any]) -> list[str]:
    return [e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_socket_mode_click_mutes_and_replaces_the_message(
    socket_front: Any,  # noqa: F811
    slack: FakeSlack,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    await alert(daemon, simulator, "15.00")
    [posted] = slack.posted
    [actions] = [b for b in posted["blocks"] if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Mute 1h",
        "Mute 4h",
        "Mute 24h",
        "Mute until resolved",
    ]
    one_hour = values(posted)[0]
    # in C1 only U1 may act (a user AND chat rule); U9 is in the channel but not allowed
    chat = msgspec.structs.replace(
        daemon.config.chat,
        allow=[AllowRule(platform="slack", users=["U1"], chats=["C1"])],
    )
    config = msgspec.structs.replace(daemon.config, chat=chat)
    daemon.commands.access = Access(config, {})

    envelope = await slack.click(posted["ts"], one_hour, user_id="U9", username="eve")
    assert await slack.ack_for(envelope) is None  # acknowledged at once
    await slack.wait_interactions(1)
    [refusal] = slack.ephemeral
    assert refusal["response_type"] == "ephemeral" and refusal["text"] == f"⛔ {REFUSAL}"
    assert refusal["replace_original"] is False and slack.replaced == []
    assert await daemon.store.active_silences(clock.now()) == []

    await slack.click(posted["ts"], one_hour)
    await slack.wait_interactions(2)
    [replaced] = slack.replaced
    assert [b["type"] for b in replaced["blocks"]] == ["section", "section", "context", "actions"]
    assert replaced["blocks"][2]["elements"][0]["text"] == (
        "🔕 Muted by ann until 2026-01-01 01:00:00 UTC"
    )
    [silence] = await daemon.store.active_silences(clock.now())
    assert silence.created_by == "slack:U1" and silence.subject == "CNY"
    assert values(slack.posted[0]) == [f"u{silence.id}"]

    await slack.click(posted["ts"], f"u{silence.id}")
    await slack.wait_interactions(3)
    assert slack.replaced[1]["blocks"][2]["elements"][0]["text"] == "🔔 Unmuted by ann"
    assert [v[:3] for v in values(slack.posted[0])] == ["m1h", "m4h", "m24", "mur"]
    assert await daemon.store.active_silences(clock.now()) == []


async def test_resolved_messages_carry_no_buttons(
    socket_front: Any,  # noqa: F811
    slack: FakeSlack,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    slack.clock = clock  # its per-channel rate limit on our time
    await alert(daemon, simulator, "15.00")
    clock.advance(2)
    await alert(daemon, simulator, "50.00")
    assert [bool(values(m)) for m in slack.posted] == [True, False]


async def test_http_clicks_are_signature_checked(
    http_daemon: tuple[Daemon, str],  # noqa: F811
    slack: FakeSlack,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    d, base = http_daemon
    url = f"{base}/slack/interactive"
    await alert(d, simulator, "15.00")
    [posted] = slack.posted
    until_resolved = values(posted)[3]
    body = urlencode({"payload": json.dumps(slack.block_actions(posted["ts"], until_resolved))})
    now = int(clock.now().timestamp())
    async with aiohttp.ClientSession() as session:
        forged = {**signed(body.encode(), now), "X-Slack-Signature": "v0=" + "0" * 64}
        async with session.post(url, data=body, headers=forged) as response:
            assert response.status == 401
        stale = signed(body.encode(), now - 360)
        async with session.post(url, data=body, headers=stale) as response:
            assert response.status == 401
        assert await d.store.active_silences(clock.now()) == []
        async with session.post(url, data=body, headers=signed(body.encode(), now)) as response:
            assert response.status == 200 and await response.text() == ""
        await slack.wait_interactions(1)
        async with session.post(url, data=body, headers=signed(body.encode(), now)) as response:
            assert response.status == 401  # the same signed click again: a replay
        garbage = urlencode({"payload": "{not json"})
        async with session.post(
            url, data=garbage, headers=signed(garbage.encode(), now)
        ) as response:
            assert response.status == 400
    [silence] = await d.store.active_silences(clock.now())
    assert silence.until_resolved
    assert slack.replaced[0]["blocks"][-2]["elements"][0]["text"] == (
        "🔕 Muted by ann until resolved"
    )
