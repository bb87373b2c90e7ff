"""`[chat]`: who may ask, the built-in front-ends' sections and the plugins' ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

from .durations import (
    MaxAge,
)
from .values import Name, Secret

if TYPE_CHECKING:
    pass


from .strict import Strict as _Strict


class AllowRule(_Strict, frozen=True, kw_only=True):
    """Who may ask about which accounts: anyone in `chats`; `users` in private chats
    (or in `chats` when both are given: user AND chat); `any_chat` restores "that user
    in any chat" for a users-only rule."""

    platform: Name  # "telegram", "slack" or a plugin front-end's `[chat.<name>]`
    chats: list[str | int] = []
    users: list[str | int] = []
    any_chat: bool = False
    accounts: list[str] | None = None  # None: every account

    def __post_init__(self) -> None:
        if not self.chats and not self.users:
            raise ValueError("list chats, users or both")
        if self.any_chat and (self.chats or not self.users):
            raise ValueError(
                "any_chat applies to a rule with users and no chats (with both, a user "
                "is allowed only in the listed chats)"
            )
        # Telegram ids are numbers in TOML; callers are compared as strings
        msgspec.structs.force_setattr(self, "chats", [str(c) for c in self.chats])
        msgspec.structs.force_setattr(self, "users", [str(u) for u in self.users])


class TelegramChatConfig(_Strict, frozen=True, kw_only=True):
    notifier: str  # the telegram notifier whose bot answers


class SlackChatConfig(_Strict, frozen=True, kw_only=True):
    notifier: str  # the slack notifier (bot token) that answers
    mode: Literal["socket", "http"] = "socket"
    app_token: Secret | None = None  # xapp-..., for socket mode
    signing_secret: Secret | None = None  # for http mode

    def __post_init__(self) -> None:
        if self.mode == "socket" and self.app_token is None:
            raise ValueError("socket mode needs app_token (an xapp- app-level token)")
        if self.mode == "http" and self.signing_secret is None:
            raise ValueError("http mode needs signing_secret")


CHAT_GATHERED = frozenset({"frontends"})
"""`ChatConfig`'s keys a file never names: `[chat.<name>]` tables are gathered into them."""


class ChatConfig(_Strict, frozen=True, kw_only=True):
    balance_max_age: MaxAge = MaxAge(minutes=5)
    telegram: TelegramChatConfig | None = None
    slack: SlackChatConfig | None = None
    allow: list[AllowRule] = []
    buttons: bool = True  # mute buttons on alerts where a front-end hears the clicks
    frontends: dict[str, dict[str, Any]] = {}
    """Plugin front-ends' `[chat.<name>]` sections, checked by their own `Options` struct
    (`configure.py`); `build_config` gathers them from beside the keys above."""
