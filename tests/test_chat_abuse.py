"""Issue 11 §6: stranger floods, odd arguments and who may ask where."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancebot.commands import REFUSAL
from balancebot.commands.access import Access, Caller, Refusals
from balancebot.commands.alerting import (
    MAX_MUTE,
    MIN_MUTE,
    UsageError,
    parse_days,
    parse_mute_span,
)
from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError
from balancebot.integrations.pacing import PRUNE_ABOVE, Pacer
from balancebot.testing.clock import FakeClock
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from .test_chat import OWNER, daemon, slack, socket_config, socket_front, telegram, telegram_front

__all__ = ["daemon", "slack", "socket_config", "socket_front", "telegram", "telegram_front"]


def refused(daemon: Daemon, outcome: str) -> float:
    value = daemon.metrics.registry.get_sample_value(
        "balancebot_commands_refused_total", {"platform": "telegram", "outcome": outcome}
    )
    return value or 0.0


async def test_a_stranger_flood_does_not_delay_an_allowed_user(
    telegram_front: Any, telegram: FakeTelegram, daemon: Daemon, clock: FakeClock
) -> None:
    """300 commands from strangers in 60 groups, then the owner's /balance: the owner is
    answered without waiting on the strangers' pacing, each group hears "no" at most once."""
    groups = [-1000 - i for i in range(60)]
    for chat in groups:
        telegram.add_chat(chat, "group")
    start, started = clock.now(), time.perf_counter()
    for n in range(300):
        await telegram.command("/balance", user_id=7000 + n, chat_id=groups[n % 60])
    await telegram.command("/balance")  # the owner, in a private chat
    await telegram.wait_sent_unique(2, key=lambda text: str("CNY: 110.00" in text))
    waited = clock.now() - start
    wall = time.perf_counter() - started
    answers = [m for m in telegram.sent if "CNY: 110.00" in m["text"]]
    refusals = [m for m in telegram.sent if REFUSAL in m["text"]]
    print(f"owner answered after {waited.total_seconds():.2f} s of pacing, {wall:.2f} s wall")
    assert len(answers) == 1 and answers[0]["chat_id"] == "42"
    assert waited < timedelta(seconds=1)  # main: 13 s behind 300 paced refusals
    assert 1 <= len(refusals) <= 20
    assert len({m["chat_id"] for m in refusals}) == len(refusals)  # once per chat
    assert telegram.rate_limited == 0
    assert refused(daemon, "answered") + refused(daemon, "dropped") == 300
    assert refused(daemon, "dropped") >= 280


async def test_slack_strangers_are_told_once_then_acked_silently(
    socket_front: Any, slack: FakeSlack
) -> None:
    first = await slack.ack_for(await slack.slash_command("/status", channel_id="C9"))
    again = await slack.ack_for(await slack.slash_command("/balance", channel_id="C9"))
    assert first is not None and first["text"] == f"⛔ {REFUSAL}"
    assert again is None  # acknowledged (Slack needs that) with nothing in it


def test_refusals_once_per_chat_per_period_and_bounded() -> None:
    clock = FakeClock()
    gate = Refusals(period=timedelta(minutes=10), capacity=100, per_minute=1000)
    stranger = Caller("telegram", "9", "-5")
    assert gate.should_answer(stranger, clock.now())
    assert not gate.should_answer(stranger, clock.now())
    clock.advance(601)
    assert gate.should_answer(stranger, clock.now())
    for n in range(10_000):
        gate.should_answer(Caller("telegram", str(n), str(-n)), clock.now())
        clock.advance(1)
        assert len(gate) <= 100


async def test_the_pacer_forgets_idle_chats() -> None:
    clock = FakeClock()
    pacer = Pacer(clock, lambda _: 3.0, per_second=1000)
    for n in range(20_000):
        await pacer.wait(f"chat-{n}")
        clock.advance(0.01)
        assert pacer.tracked <= 2 * max(PRUNE_ABOVE, 301) + 1  # 300 chats busy at a time
    assert pacer.try_now("fresh") and not pacer.try_now("fresh")


# --- odd arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/mute 99999999999d prod",
        "/mute \uff11h",
        "/mute \uff11h prod",
        "/mute 0.0000001ms prod",
        "/mute 0s prod",
        "/mute 1e9h prod",
        "/mute -5m prod",
        "/mute 1h30m30m30m30m prod",
        "/mute nan prod",
        "/history ²",
        "/history ٣",
        "/history 99999999999999999999",
        "/history 0",
        "/history 366",
        "/history prod 7 8",
    ],
)
async def test_odd_arguments_get_a_usage_reply(daemon: Daemon, text: str) -> None:
    reply = await daemon.commands.handle(OWNER, text)
    assert reply is not None and reply.headline.startswith("Usage: /"), reply
    assert reply.details and "failed" not in reply.headline


async def test_the_usage_reply_names_the_valid_range(daemon: Daemon) -> None:
    reply = await daemon.commands.handle(OWNER, "/mute 0.0000001ms prod")
    assert reply is not None
    assert reply.details == (
        "'0.0000001ms' is not a duration from 1m to 30d, like 30m, 2h or 1d12h",
    )
    days = await daemon.commands.handle(OWNER, "/history ²")
    assert days is not None and days.details == ("no account '²' that you may see",)
    assert (await daemon.commands.handle(OWNER, "/history 400")).details == (  # type: ignore[union-attr]
        "days are 1 to 365",
    )
    ok = await daemon.commands.handle(OWNER, "/mute 1.5h prod")
    assert ok is not None and ok.headline == "Muted prod for 1h 30m"


@given(st.text(max_size=40))
def test_mute_spans_are_in_range_or_a_usage_error(text: str) -> None:
    try:
        span = parse_mute_span(text)
    except UsageError as exc:
        assert "1m to 30d" in str(exc)
    else:
        assert MIN_MUTE <= span <= MAX_MUTE


@given(st.from_regex(r"[0-9]{1,7}(\.[0-9]{1,4})?[dhms]{1,2}", fullmatch=True))
def test_near_miss_spans_never_raise_anything_else(text: str) -> None:
    with contextlib.suppress(UsageError):
        assert MIN_MUTE <= parse_mute_span(text) <= MAX_MUTE


@given(st.text(max_size=12))
def test_days_are_one_to_365_or_a_usage_error(text: str) -> None:
    try:
        days = parse_days(text)
    except UsageError:
        return
    assert 1 <= days <= 365 and text.isascii()


# --- access: user AND chat ----------------------------------------------------------------


def access_for(make_config: Callable[..., Config], **rule: Any) -> Access:
    config = make_config(chat={"allow": [{"platform": "telegram", **rule}]})
    return Access(config, {})


def test_a_user_list_alone_answers_only_in_private_chats(
    make_config: Callable[..., Config],
) -> None:
    access = access_for(make_config, users=[42])
    assert access.accounts_for(Caller("telegram", "42", "42", private=True)) == {"prod"}
    assert access.accounts_for(Caller("telegram", "42", "-100777")) == frozenset()
    anywhere = access_for(make_config, users=[42], any_chat=True)
    assert anywhere.accounts_for(Caller("telegram", "42", "-100777")) == {"prod"}


def test_users_and_chats_together_mean_both(make_config: Callable[..., Config]) -> None:
    access = access_for(make_config, users=[42], chats=[-100777])
    assert access.accounts_for(Caller("telegram", "42", "-100777")) == {"prod"}
    assert access.accounts_for(Caller("telegram", "43", "-100777")) == frozenset()
    assert access.accounts_for(Caller("telegram", "42", "-100888")) == frozenset()
    assert access.accounts_for(Caller("telegram", "42", "42", private=True)) == frozenset()
    group = access_for(make_config, chats=[-100777])
    assert group.accounts_for(Caller("telegram", "43", "-100777")) == {"prod"}


def test_slack_direct_messages_are_private(make_config: Callable[..., Config]) -> None:
    config = make_config(chat={"allow": [{"platform": "slack", "users": ["U1"]}]})
    access = Access(config, {})
    assert access.accounts_for(Caller("slack", "U1", "D024BE91L", private=True)) == {"prod"}
    assert access.accounts_for(Caller("slack", "U1", "C0123")) == frozenset()


def test_any_chat_with_chats_is_a_config_error(make_config: Callable[..., Config]) -> None:
    with pytest.raises(ConfigError, match="any_chat applies to a rule with users and no chats"):
        access_for(make_config, users=[42], chats=[-1], any_chat=True)


async def test_status_in_a_group_needs_the_group(daemon: Daemon) -> None:
    """The owner is allowed by user id: answered in private, refused in a group."""
    in_group = await daemon.commands.handle(Caller("telegram", "42", "-100555"), "/status")
    assert in_group is not None and in_group.headline == REFUSAL
    private = await daemon.commands.handle(OWNER, "/status")
    assert private is not None and any(line == "Notifiers:" for line in private.details)


async def test_an_allowed_user_gets_no_status_in_another_group(
    telegram_front: Any, telegram: FakeTelegram
) -> None:
    """Through PTB: the owner (allowed by user id) asks in a group the rules don't name."""
    telegram.add_chat(-100555, "group")
    await telegram.command("/status", user_id=42, chat_id=-100555)
    await telegram.command("/status", user_id=42, chat_id=42)
    sent = await telegram.wait_sent(2)
    by_chat = {m["chat_id"]: m["text"] for m in sent}
    assert by_chat["-100555"] == f"⛔ <b>{REFUSAL}</b>"  # main: notifier health, in the group
    assert "Notifiers:" in by_chat["42"]
