"""The engine's read model: what it knows of each account, kept up to date by the checks.

Checks (`checks.py`) are its only writers: each stored check appends its result, replaces
the alert states it changed and records the routes it told, and only once the store took
them (memory follows the store). Everything else only reads it: the chat commands, the
metrics scrape, `/readyz`, the status page and the MCP tools. A reader that needs a fresh
balance asks a `Checker` (the daemon's pipeline) rather than reaching into the engine.

`AccountMemory.load` builds one from the store alone, for a process with no daemon in it
(`balancebot mcp` over stdio reads the same model the daemon would).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from .models import AlertKey, AlertState, CheckResult, TransitionKind
from .recent import RecentResults, Retention, retention_for

if TYPE_CHECKING:
    from .clock import Clock
    from .config import Config
    from .models import RouteTarget
    from .store import OutboxEntry, Store
    from .store.accounts import AccountView

_V = TypeVar("_V", bound=Hashable)

LOAD_BATCH = 500
"""Accounts read back in one go at start (a 10,000-account replica starts in 20 reads)."""


class Checker(Protocol):
    """What a reader may ask of the engine: a check made now, or (with replicas sharing a
    store) a re-read of what the others checked last. Both land in the `AccountMemory`."""

    async def check_now(self, account: str) -> CheckResult:
        """Check `account` now; its result (also in memory once stored)."""
        ...

    async def refresh(self, *accounts: str) -> None:
        """Re-read the accounts' last results and alert states from the store."""
        ...


def interned(by_key: Mapping[str, _V]) -> dict[str, _V]:
    """One object per distinct value: 10,000 accounts share a handful of rule sets."""
    seen: dict[_V, _V] = {}
    return {key: seen.setdefault(value, value) for key, value in by_key.items()}


class AccountMemory:
    """Latest result, recent history, alert states, the routes told of each open alert and
    the last successful check, per account of the configuration."""

    def __init__(self, config: Config) -> None:
        self._names: list[str] = []
        self._keeps: dict[str, Retention] = {}
        self._recent: dict[str, RecentResults] = {}
        self._states: dict[AlertKey, AlertState] = {}
        self._keys: dict[str, set[AlertKey]] = {}  # each account's keys in `_states`
        # per account (a read-back replaces one account's without a scan of all of them)
        self._told: dict[str, dict[AlertKey, set[RouteTarget]]] = {}
        self._last_success: dict[str, datetime] = {}
        self._stale: set[str] = set()  # to read back before their next check
        self.configure(config)

    @classmethod
    async def load(cls, config: Config, store: Store, clock: Clock) -> AccountMemory:
        """What the store holds of `config`'s accounts: where the last run stopped."""
        memory = cls(config)
        await memory.read(store, clock)
        return memory

    async def read(self, store: Store, clock: Clock) -> None:
        """Replace everything with what the store holds of the configured accounts."""
        self._states, self._keys, self._told = {}, {}, {}
        for key, state in (await store.alert_states()).items():
            if key.account in self._keeps:
                self._states[key] = state
                self._keys.setdefault(key.account, set()).add(key)
        for start in range(0, len(self._names), LOAD_BATCH):
            batch = self._names[start : start + LOAD_BATCH]
            for account, view in (await store.account_views(self.limits(batch))).items():
                self._recent[account] = await self.read_history(store, clock, account, view)
        successes = await store.last_successes()
        self._last_success = {a: at for a, at in successes.items() if a in self._keeps}
        for key, routes in (await store.told_routes()).items():
            if key.account in self._keeps:
                self._told.setdefault(key.account, {})[key] = routes
        self._stale.clear()

    # -- reading -------------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """The accounts of the configuration, in its order."""
        return list(self._names)

    def latest(self, account: str) -> CheckResult | None:
        recent = self._recent.get(account)
        return recent.latest() if recent else None

    def recent(self, account: str) -> list[CheckResult]:
        """What the rules see of the account's history, oldest first."""
        return list(self._recent.get(account, ()))

    def states(self, account: str | None = None) -> Mapping[AlertKey, AlertState]:
        """Every alert's state (a live view), or one account's (a copy)."""
        if account is None:
            return self._states
        return {key: self._states[key] for key in self._keys.get(account, ())}

    def state(self, key: AlertKey) -> AlertState | None:
        return self._states.get(key)

    def last_success(self, account: str) -> datetime | None:
        return self._last_success.get(account)

    def told(self, key: AlertKey) -> set[RouteTarget]:
        """The (notifier, target) routes told that the alert fired (and not yet resolved):
        where its resolved notice goes (`notify/`); a copy."""
        return set(self._told.get(key.account, {}).get(key, ()))

    def told_of(self, account: str) -> Mapping[AlertKey, frozenset[RouteTarget]]:
        return {key: frozenset(routes) for key, routes in self._told.get(account, {}).items()}

    # -- the checks' side ----------------------------------------------------------------

    def configure(self, config: Config) -> None:
        """Follow a (re)loaded configuration: removed accounts are forgotten, the others
        keep everything (alert states and what was told survive a reload). An account whose
        rules need more history than is kept reads it back at its next `replace`."""
        keeps = interned({a.name: retention_for(config.rules_for(a.name)) for a in config.accounts})
        for gone in set(self._keeps) - set(keeps):
            self.forget(gone)
        if self._names:  # a reload, not the first configuration
            self._stale |= {a for a, keep in keeps.items() if self._keeps.get(a) != keep}
        self._names = [a.name for a in config.accounts]
        self._keeps = keeps

    def forget(self, account: str) -> None:
        self._recent.pop(account, None)
        for key in self._keys.pop(account, set()):
            self._states.pop(key, None)
        self._told.pop(account, None)
        self._last_success.pop(account, None)
        self._stale.discard(account)

    def keep(self, account: str) -> Retention:
        """How much of the account's history its rules need."""
        return self._keeps.get(account) or Retention()

    def limits(self, accounts: Sequence[str]) -> dict[str, int]:
        """How many of each account's last results its rules need."""
        return {account: self.keep(account).count for account in accounts}

    def stale(self, account: str) -> bool:
        """Whether the account is to be read back from the store before its next check: a
        reload added it (the store may remember it from before) or changed how much of its
        history its rules need."""
        return account in self._stale

    async def read_history(
        self, store: Store, clock: Clock, account: str, view: AccountView
    ) -> RecentResults:
        """The account's recent results as its rules need them: the view's last results and,
        for trend rules, the successful checks of their window before those."""
        keep = self.keep(account)
        recent = view.recent
        if keep.reach:
            first = recent[0].taken_at if recent else clock.now()
            older = await store.history(account, clock.now() - keep.reach)
            recent = [*(s for s in older if s.taken_at < first), *recent]
        return RecentResults(recent, keep)

    def history(self, account: str) -> RecentResults:
        """The account's history for the rules (created empty on first use)."""
        found = self._recent.get(account)
        if found is None:
            found = self._recent[account] = RecentResults((), self.keep(account))
        return found

    def replace(
        self,
        account: str,
        recent: RecentResults,
        states: Mapping[AlertKey, AlertState],
        told: Mapping[AlertKey, set[RouteTarget]],
    ) -> None:
        """An account as read back from the store (its last check may have run elsewhere)."""
        self._stale.discard(account)
        self._recent[account] = recent
        for key in self._keys.pop(account, set()):  # inactive ones have no row: forget all
            self._states.pop(key, None)
        self._states.update(states)
        if states:  # an empty set is 216 bytes, and most accounts have no alert state
            self._keys[account] = set(states)
        self._told.pop(account, None)
        if told:
            self._told[account] = dict(told)

    def record(
        self, result: CheckResult, changed: Iterable[AlertState], entries: Iterable[OutboxEntry]
    ) -> None:
        """A check the store took: its result, the states it changed, the notices queued."""
        self.history(result.account).append(result)
        self.remember(changed, entries)

    def remember(self, changed: Iterable[AlertState], entries: Iterable[OutboxEntry]) -> None:
        """Alert states and told routes alone: also what a check the store refused saw."""
        for state in changed:
            self._states[state.key] = state
            self._keys.setdefault(state.key.account, set()).add(state.key)
        self.remember_told(entries)

    def succeeded(self, account: str, at: datetime) -> None:
        self._last_success[account] = at

    def learn_successes(self, found: Mapping[str, datetime]) -> None:
        """Successful checks made elsewhere (another replica), read from the store."""
        for account, at in found.items():
            known = self._last_success.get(account)
            if account in self._keeps and (known is None or at > known):
                self._last_success[account] = at

    def remember_told(self, entries: Iterable[OutboxEntry]) -> None:
        """The store's `alert_routes`, written in the same transaction as `entries`: an
        unmuted firing notice adds its route, a resolved one ends the alert's record."""
        for entry in entries:
            n = entry.notification
            key = AlertKey(n.account, n.rule, n.subject)
            if n.kind is TransitionKind.RESOLVED:
                told = self._told.get(n.account, {})
                told.pop(key, None)
                if not told:
                    self._told.pop(n.account, None)
            elif not entry.muted:
                told = self._told.setdefault(n.account, {})
                told.setdefault(key, set()).add((entry.notifier, entry.target))
