"""Hostile input: arbitrary JSON for the balance parser, arbitrary text for the command
layer and the config loader, markup in every rendered string. Only the documented
exceptions may escape, and every rendering stays well-formed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from balancebot.commands import MAX_INPUT_CHARS, REFUSAL, REGISTRY, Reply
from balancebot.commands.access import Caller
from balancebot.configure import load_config, parse_config
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError, MalformedResponse
from balancebot.integrations.slack.rendering import slack_blocks, slack_escape, slack_text
from balancebot.integrations.telegram.rendering import telegram_html
from balancebot.providers.deepseek import parse_balance
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.telegram import html_problem

from ..conftest import API_KEY, SUMMARY

T0 = datetime(2026, 1, 1, tzinfo=UTC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
amounts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=12),
    json_values,
)
balance_infos = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "currency": st.sampled_from(["CNY", "USD", "EUR", "", 1]) | st.text(max_size=4),
            "total_balance": amounts,
            "granted_balance": amounts,
            "topped_up_balance": amounts,
            "extra": json_values,
        },
    ),
    max_size=3,
)
balance_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "is_available": st.booleans() | json_values,
            "balance_infos": balance_infos | json_values,
        },
    ),
)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(balance_bodies)
def test_balance_parser_accepts_or_says_malformed(data: Any) -> None:
    SUMMARY["malformed inputs tried"] += 1
    raw = json.dumps(data, allow_nan=True).encode()
    try:
        snapshot = parse_balance(raw, "prod", "deepseek", T0)
    except MalformedResponse:
        return
    assert isinstance(snapshot.is_available, bool)
    for balance in snapshot.balances.values():
        for amount in (balance.total, balance.granted, balance.topped_up):
            assert isinstance(amount, Decimal) and amount.is_finite()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_balance_parser_survives_arbitrary_bytes(raw: bytes) -> None:
    SUMMARY["malformed inputs tried"] += 1
    with contextlib.suppress(MalformedResponse):
        parse_balance(b"  \n" + raw, "prod", "deepseek", T0)


config_keys = st.sampled_from(
    [
        "accounts",
        "rules",
        "notifiers",
        "routes",
        "chat",
        "store",
        "http",
        "digest",
        "name",
        "api_key",
        "type",
        "thresholds",
        "CNY",
        "for",
        "check_interval",
        "timezone",
        "language",
        "api_key_file",
        "allow",
        "telegram",
        "slack",
        "schedule",
        "listen",
        "base_url",
    ]
)
config_trees = st.recursive(
    json_values,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(config_keys | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(config_keys, config_trees, max_size=6))
@example({"rules": [{"type": []}]})  # an unhashable rule type once escaped as a TypeError
def test_config_parser_raises_only_config_errors(raw: dict[str, Any]) -> None:
    SUMMARY["malformed inputs tried"] += 1
    try:
        parse_config(raw, Path("/nonexistent"), env={})
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) for p in exc.problems)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=400))
def test_config_files_of_any_text_raise_only_config_errors(tmp_path: Path, text: str) -> None:
    SUMMARY["malformed inputs tried"] += 1
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(ConfigError):
        load_config(path, env={})


@pytest.fixture(scope="module")
def commands_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """One daemon for the whole property run, in a loop of its own."""
    runner = asyncio.Runner()
    simulator = DeepSeekSimulator()
    runner.run(simulator.start())
    simulator.add_account(API_KEY)
    config = parse_config(
        {
            "store": {"path": str(tmp_path_factory.mktemp("hostile") / "s.db")},
            "accounts": [{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        },
        Path("."),
        env={},
    )
    opened = Daemon.open(config)
    daemon = runner.run(opened.__aenter__())
    try:
        yield runner, daemon
    finally:
        runner.run(opened.__aexit__(None, None, None))
        runner.run(simulator.stop())
        runner.close()


command_texts = st.one_of(
    st.text(max_size=300),
    st.tuples(
        st.sampled_from([n for n in REGISTRY if n != "history"] + ["nope"]),
        st.text(max_size=40),
        st.sampled_from(["", "@BalanceBot", "@Other"]),
    ).map(lambda t: f"/{t[0]}{t[2]} {t[1]}"),
)


@settings(max_examples=300, deadline=None)
@given(command_texts)
def test_any_chat_text_gets_a_reply_and_strangers_get_nothing(
    commands_runner: tuple[Any, Any], text: str
) -> None:
    runner, daemon = commands_runner
    SUMMARY["malformed inputs tried"] += 1
    reply = runner.run(daemon.commands.handle(Caller("console", "me", "console"), text))
    assert isinstance(reply, Reply) and reply.headline
    assert not reply.headline.startswith("Sorry, that failed")  # no exception, ever
    if len(text) > MAX_INPUT_CHARS:
        assert "too long" in reply.headline
    SUMMARY["unauthorized requests tried"] += 1
    refused = runner.run(daemon.commands.handle(Caller("slack", "U9", "C9"), text))
    if refused is not None and (refused.headline != REFUSAL or refused.details):
        SUMMARY["unauthorized requests answered with data"] += 1
    # told once per chat per period, then dropped
    assert refused in (Reply(REFUSAL, icon="⛔", best_effort=True), None)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80), st.lists(st.text(max_size=80), max_size=4))
def test_markup_is_escaped_on_every_platform(headline: str, details: list[str]) -> None:
    SUMMARY["malformed inputs tried"] += 1
    reply = Reply(headline or "x", tuple(details))
    assert html_problem(telegram_html(reply)) is None
    text = slack_text(reply) + "".join(b["text"]["text"] for b in slack_blocks(reply))
    assert not re.search(r"<|>|&(?!amp;|lt;|gt;)", text)
    assert slack_escape("<@U1> & <!channel>") == "&lt;@U1&gt; &amp; &lt;!channel&gt;"
