"""Who may ask about which accounts; checked once, in the command layer, for every platform."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config import Config


@dataclass(frozen=True, slots=True)
class Caller:
    platform: str  # "telegram", "slack" or "console"
    user_id: str
    chat_id: str
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.user_id}"


class Access:
    """`[[chat.allow]]` rules; without any for a platform, the chats the bot notifies
    there may see every account. The local console (the demo) sees everything."""

    def __init__(self, config: Config, notified_chats: Mapping[str, list[str]]) -> None:
        self._all = frozenset(a.name for a in config.accounts)
        self._rules = config.chat.allow
        self._default = {
            platform: frozenset(chats)
            for platform, chats in notified_chats.items()
            if not any(rule.platform == platform for rule in self._rules)
        }

    @property
    def all_accounts(self) -> frozenset[str]:
        return self._all

    def accounts_for(self, caller: Caller) -> frozenset[str]:
        """The accounts this caller may see; empty means refused."""
        if caller.platform == "console":
            return self._all
        if caller.chat_id in self._default.get(caller.platform, frozenset()):
            return self._all
        allowed: set[str] = set()
        for rule in self._rules:
            if rule.platform == caller.platform and (
                caller.chat_id in rule.chats or caller.user_id in rule.users
            ):
                allowed |= self._all if rule.accounts is None else set(rule.accounts)
        return frozenset(allowed)
