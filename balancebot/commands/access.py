"""Who may ask about which accounts; checked once, in the command layer, for every platform."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import AllowRule, Config

REFUSAL_PERIOD = timedelta(minutes=10)  # a chat is told "not allowed" at most this often
REFUSALS_REMEMBERED = 4096  # chats tracked; beyond that, strangers are not answered at all
REFUSALS_PER_MINUTE = 20  # refusals sent in all; within the headroom the notifiers leave


@dataclass(frozen=True, slots=True)
class Caller:
    platform: str  # a front-end's name ("telegram", "slack", a plugin's), "console" or "cli"
    user_id: str
    chat_id: str
    name: str = ""
    private: bool = False
    """A one-to-one chat with the bot, as the front-end that heard the caller knows it
    (where it cannot tell, False: users-only rules then need `any_chat` or the chats)."""

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.user_id}"


def _matches(rule: AllowRule, caller: Caller) -> bool:
    """User AND chat: a users-only rule answers only in private chats unless `any_chat`."""
    if rule.platform != caller.platform:
        return False
    if rule.users and caller.user_id not in rule.users:
        return False
    if rule.chats:
        return caller.chat_id in rule.chats
    return caller.private or rule.any_chat


class Access:
    """`[[chat.allow]]` rules; without any for a platform, the chats the bot notifies
    there may see every account. The local console (the demo) and the CLI see everything."""

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
        if caller.platform in ("console", "cli"):
            return self._all
        if caller.chat_id in self._default.get(caller.platform, frozenset()):
            return self._all
        allowed: set[str] = set()
        for rule in self._rules:
            if _matches(rule, caller):
                allowed |= self._all if rule.accounts is None else set(rule.accounts)
        return frozenset(allowed)


class Refusals:
    """Whether to tell a refused chat so: once per chat per `period`, then silence.

    A flood of stranger commands costs at most `per_minute` sends in all, and the table
    is bounded: expired entries go first, and when it is full of recent ones new chats
    are not answered (they are still counted)."""

    def __init__(
        self,
        period: timedelta = REFUSAL_PERIOD,
        capacity: int = REFUSALS_REMEMBERED,
        per_minute: int = REFUSALS_PER_MINUTE,
    ) -> None:
        self._period = period
        self._capacity = capacity
        self._per_minute = per_minute
        self._told: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._recent: deque[datetime] = deque()  # when the last refusals went out

    def __len__(self) -> int:
        return len(self._told)

    def should_answer(self, caller: Caller, now: datetime) -> bool:
        while self._told:  # oldest first: drop what has expired
            oldest, at = next(iter(self._told.items()))
            if now - at < self._period:
                break
            del self._told[oldest]
        while self._recent and now - self._recent[0] >= timedelta(minutes=1):
            self._recent.popleft()
        key = (caller.platform, caller.chat_id)
        if key in self._told or len(self._told) >= self._capacity:
            return False
        if len(self._recent) >= self._per_minute:
            return False
        self._told[key] = now
        self._recent.append(now)
        return True
