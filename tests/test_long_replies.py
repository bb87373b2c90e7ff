"""Long chat replies are summarised to fit one message on every platform, never cut
(issue 21 §2: 300 mutes cut /status at 4,096 characters, losing what came after them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from balancebot.commands.core import Reply, fitted, summarised
from balancebot.daemon import Daemon
from balancebot.integrations.slack.rendering import slack_blocks
from balancebot.integrations.telegram.rendering import telegram_html
from balancebot.render import fits
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.telegram import FakeTelegram

from .test_buttons_telegram import alert
from .test_chat import (  # noqa: F401 - fixtures
    OWNER,
    daemon,
    slack,
    socket_config,
    telegram,
    telegram_front,
)


async def test_status_with_300_mutes_summarises_and_keeps_every_section(
    telegram_front: Any,  # noqa: F811
    telegram: FakeTelegram,  # noqa: F811
    daemon: Daemon,  # noqa: F811
    simulator: DeepSeekSimulator,
    clock: FakeClock,
) -> None:
    await alert(daemon, simulator, "15.00")
    for n in range(300):
        until = clock.now() + timedelta(hours=1, minutes=n)
        await daemon.store.add_silence("prod", "low", until, f"telegram:{n}", clock.now())
    await telegram.command("/status")
    sent = (await telegram.wait_sent(2))[-1]  # the alert went out first
    text = sent["text"]
    assert len(text) <= 4096 and not text.endswith("…")
    assert "Muted: 300" in text and "… and 29" in text  # "… and 290 more" or so
    assert "Notifiers:" in text and "oncall: ok" in text and "Chat:" in text

    reply = await daemon.commands.handle(OWNER, "/status")  # the same reply on Slack
    assert reply is not None and fits(reply)
    details = slack_blocks(reply)[1]["text"]["text"]
    assert len(details) <= 3000 and "Chat:" in details


def test_a_reply_lists_everything_that_fits_and_summarises_the_rest() -> None:
    items = [[f"line {n}", f"  more about {n}"] for n in range(1000)]
    assert summarised(items[:3], None) == [line for item in items[:3] for line in item]
    assert summarised(items, 2)[-1] == "  … and 998 more"
    whole = fitted(lambda most: Reply("short", tuple(summarised(items[:5], most))))
    assert len(whole.details) == 10  # all of it: it fits
    long = fitted(lambda most: Reply("long", tuple(summarised(items, most))))
    assert fits(long) and long.details[-1] == "  … and 990 more"
    assert telegram_html(long).endswith("… and 990 more")
