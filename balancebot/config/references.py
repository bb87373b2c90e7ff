"""Cross-reference checks on the raw configuration tables.

They read the tables rather than the finished `Config` so that they run even when some other
key is wrong: every problem comes out in one go, not one per edit-and-retry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .secrets import format_location

DEFAULT_NAMES = {"rules": ("unavailable", "check-failed"), "notifiers": ("console",)}
"""The names a section has when the file leaves it out (see `config.DEFAULT_RULES`)."""


def tables(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    """The tables of an array-of-tables section, with their indexes; other shapes are skipped
    (the model check reports them)."""
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, Mapping)]


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


LISTED = 12
"""Known names an error lists at most (a config may have 10,000 accounts)."""


def unknown_names(
    where: str, kind: str, names: Iterable[str], known: Iterable[str], among: str = "configured"
) -> list[str]:
    """`no <kind> named 'x' (configured: 'a', 'b')` for each name not in `known`."""
    known = sorted(set(known))
    missing = sorted(set(names) - set(known))
    if not missing:
        return []
    listed = ", ".join(map(repr, known[:LISTED])) if known else "none"
    if len(known) > LISTED:
        listed += f" and {len(known) - LISTED} more"
    return [f"{where}: no {kind} named {name!r} ({among}: {listed})" for name in missing]


def names(data: Mapping[str, Any], section: str, problems: list[str] | None = None) -> list[str]:
    if section not in data:
        return list(DEFAULT_NAMES.get(section, ()))
    seen: list[str] = []
    known: set[str] = set()  # not `in seen`: 10,000 accounts made that 50 million comparisons
    for i, item in tables(data, section):
        name = item.get("name")
        if not isinstance(name, str):
            continue
        if name in known and problems is not None:
            problems.append(f"{section}[{i}].name: duplicate name {name!r}")
        seen.append(name)
        known.add(name)
    return seen


def reference_problems(data: Mapping[str, Any]) -> list[str]:
    """Names must be unique and every name a section mentions must exist."""
    problems: list[str] = []
    accounts = names(data, "accounts", problems)
    rules = names(data, "rules", problems)
    notifiers = names(data, "notifiers", problems)
    for i, rule in tables(data, "rules"):
        problems += unknown_names(
            f"rules[{i}].accounts", "account", _strings(rule.get("accounts")), accounts
        )
    for i, route in tables(data, "routes"):
        for kind, known in (("notifiers", notifiers), ("accounts", accounts), ("rules", rules)):
            problems += unknown_names(
                f"routes[{i}].{kind}", kind[:-1], _strings(route.get(kind)), known
            )
    chat = data.get("chat")
    if isinstance(chat, Mapping):
        problems += _chat_problems(data, chat, accounts)
    mcp = data.get("mcp")
    if isinstance(mcp, Mapping):
        listed = _strings(mcp.get("accounts"))
        problems += unknown_names("mcp.accounts", "account", listed, accounts)
        if mcp.get("http") is True and not _http_enabled(data):
            problems.append("mcp.http: /mcp is served by [http]; set enabled = true there")
    return problems


def _http_enabled(data: Mapping[str, Any]) -> bool:
    http = data.get("http")
    return isinstance(http, Mapping) and http.get("enabled") is True


def _chat_problems(
    data: Mapping[str, Any], chat: Mapping[str, Any], accounts: list[str]
) -> list[str]:
    problems: list[str] = []
    plugins = chat.get("frontends")  # gathered `[chat.<name>]` of plugin front-ends
    plugins = plugins if isinstance(plugins, Mapping) else {}
    platforms = ("telegram", "slack", *plugins)
    for i, allow in tables(chat, "allow"):
        problems += unknown_names(
            f"chat.allow[{i}].accounts", "account", _strings(allow.get("accounts")), accounts
        )
        platform = allow.get("platform")
        if isinstance(platform, str) and platform not in platforms:
            problems.append(
                f"chat.allow[{i}].platform: no front-end {platform!r} "
                "(telegram, slack or a configured [chat.<name>] plugin)"
            )
    by_name = {str(n.get("name")): n for _, n in tables(data, "notifiers")}
    for platform in platforms:  # a plugin front-end names its notifier the same way
        front_end = chat.get(platform, plugins.get(platform))
        if not isinstance(front_end, Mapping) or not isinstance(front_end.get("notifier"), str):
            continue
        name = front_end["notifier"]
        notifier = by_name.get(name)
        if notifier is None or notifier.get("type") != platform:
            same_type = [n for n, t in by_name.items() if t.get("type") == platform]
            problems += unknown_names(
                format_location(("chat", platform, "notifier")),
                f"{platform} notifier",
                [name],
                same_type,
                among=f"{platform} notifiers configured",
            )
        elif platform == "slack" and "bot_token" not in notifier.get("options", notifier):
            problems.append("chat.slack.notifier: answering commands needs a bot_token")
    slack = chat.get("slack")
    if isinstance(slack, Mapping) and slack.get("mode") == "http" and not _http_enabled(data):
        problems.append("chat.slack.mode: http mode is served by [http]; set enabled = true")
    return problems
