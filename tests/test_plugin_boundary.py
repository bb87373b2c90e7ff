"""What a third-party chat front-end needs from the core, without one installed: its
`[chat.<name>]` section is gathered and checked by its own plugin, `[[chat.allow]]` takes
its platform, its notifier's chats may ask by default, and no chat on an unknown
platform passes for private."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from balancebot.commands.access import Access, Caller
from balancebot.config import ChatConfig
from balancebot.config.values import NoOptions
from balancebot.configure import parse_config
from balancebot.daemon import notified_chats
from balancebot.errors import ConfigError
from balancebot.integrations.console.notifier import ConsoleNotifier
from balancebot.integrations.slack.frontend import caller_of

ACCOUNT = {"name": "prod", "api_key": "sk-boundary"}


def test_a_plugin_section_is_gathered_and_checked_by_its_plugin(tmp_path: Path) -> None:
    raw = {"accounts": [ACCOUNT], "chat": {"balance_max_age": "1m", "matrix": {"room": "x"}}}
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, tmp_path, env={})
    [problem] = raised.value.problems  # whatever else is installed beside
    assert problem.startswith("chat.matrix: unknown frontend 'matrix' (installed: ")
    config = parse_config({"accounts": [ACCOUNT], "chat": {"balance_max_age": "1m"}}, tmp_path)
    assert config.chat.frontends == {} and config.chat.balance_max_age.total_seconds() == 60
    # `check` (a notifier selection) starts no front-end: their plugins are not loaded
    config = parse_config(raw, tmp_path, env={}, notifiers=[])
    assert config.chat.frontends == {}


def test_allow_rules_name_a_configured_platform(tmp_path: Path) -> None:
    raw = {
        "accounts": [ACCOUNT],
        "chat": {"allow": [{"platform": "matrix", "chats": ["!room"]}]},
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, tmp_path, env={})
    assert raised.value.problems == [
        "chat.allow[0].platform: no front-end 'matrix' "
        "(telegram, slack or a configured [chat.<name>] plugin)"
    ]


def test_a_plugin_front_end_names_a_notifier_of_its_own_type(tmp_path: Path) -> None:
    raw = {"accounts": [ACCOUNT], "chat": {"matrix": {"notifier": "console"}}}
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, tmp_path, env={})
    assert (
        "chat.matrix.notifier: no matrix notifier named 'console' "
        "(matrix notifiers configured: none)"
    ) in raised.value.problems


def test_a_plugin_front_ends_notifier_chats_may_ask(tmp_path: Path) -> None:
    config = parse_config({"accounts": [ACCOUNT]}, tmp_path, env={})
    # as if a `matrix` plugin were installed with a notifier of its own (a console here)
    chat = ChatConfig(frontends={"matrix": {"notifier": "console"}})
    config = msgspec.structs.replace(config, chat=chat)
    notifiers = {"console": ConsoleNotifier("console", NoOptions())}
    chats = notified_chats(config, notifiers)
    assert chats == {"matrix": [""]}
    access = Access(config, chats)
    assert access.accounts_for(Caller("matrix", "u1", "")) == {"prod"}
    assert access.accounts_for(Caller("matrix", "u1", "!elsewhere")) == frozenset()


def test_no_chat_on_a_plugin_platform_is_taken_for_private() -> None:
    """Only the front-end that heard a caller says whether the chat is private: the
    command layer knows no platform's convention."""
    assert not Caller("matrix", "u1", "u1").private
    assert not Caller("telegram", "7", "7").private  # not even Telegram's, by its name
    assert caller_of({"user_id": "U1", "channel_id": "D024BE91L"}).private  # Slack's DM
    assert not caller_of({"user_id": "U1", "channel_id": "C0123"}).private
