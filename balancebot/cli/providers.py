"""`balancebot providers`: the installed providers and what each needs to be watched."""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import ConfigError
from ..plugins import PROVIDERS, available, distribution
from ..providers.contract import Availability, BalanceKind, Bill, KeyScope, Provider, provider_class


def providers_table() -> str:
    """One block per provider: its name for `provider = ...`, what it can tell (its bills),
    the key it needs, its hosts, its options with their defaults, and the package of a
    third-party one (a broken plugin, or one that declares no bills, is still listed)."""
    blocks = []
    for name in available(PROVIDERS):
        try:
            cls = provider_class(name)
        except (ConfigError, ImportError, AttributeError) as exc:
            blocks.append(f"{name}\n  cannot be loaded: {exc}")
            continue
        try:
            lines = _described(name, cls)
        except Exception as exc:  # a plugin's slip must not hide the other providers
            lines = [name, f"  cannot be described: {type(exc).__name__}: {exc}"[:300]]
        if (origin := distribution(PROVIDERS, name)) != "balancebot":
            lines.append(f"  from:    {origin}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _described(name: str, cls: type[Provider[Any]]) -> list[str]:
    hosts = ", ".join(cls.default_hosts) or "none built in: base_url or options say"
    fields = [_option(field) for field in msgspec.structs.fields(cls.Options)]
    bills = getattr(cls, "bills", ())
    if not isinstance(bills, tuple | list) or not all(isinstance(b, Bill) for b in bills):
        raise TypeError(f"bills must be a tuple of Bill, not {bills!r:.80}")
    lines = [f"{name}  ({cls.display_name})", *_bills(tuple(bills))]
    lines += [
        f"  key:     {cls.key_kind}",
        f"  host:    {hosts}",
    ]
    if fields:
        lines.append(f"  options: {', '.join(fields)}")
    return lines


def _option(field: msgspec.structs.FieldInfo) -> str:
    if field.default is not msgspec.NODEFAULT:
        return f"{field.encode_name}={field.default!r}"
    if field.default_factory is not msgspec.NODEFAULT:
        return f"{field.encode_name}={field.default_factory()!r}"
    return f"{field.encode_name} (required)"


KINDS: dict[BalanceKind, str] = {
    "prepaid": "prepaid balance",
    "spending limit": "what is left of a key's spending limit",
    "credits": "credits",
    "points": "points",
    "quota": "quota",
    "configured": "whatever the `balance` path reads",
}
KEYS: dict[KeyScope, str] = {
    "inference": "inference key",
    "admin": "admin key",
    "management": "management key",
    "access token": "account access token",
    "cloud": "cloud access key and secret",
    "configured": "whatever key the endpoint takes",
}
AVAILABILITY: dict[Availability, str] = {
    "reported": "reported by the API",
    "from balance": "derived from the balance",
    "configured": "from a path, or derived from the balance",
}


def _bills(bills: tuple[Bill, ...]) -> list[str]:
    """What "balance" means there, per mode: its kind and units, then the key scope and
    where availability comes from (a value a plugin made up is shown as it is)."""
    if not bills:
        return ["  balance: not declared by the provider"]
    lines = []
    for bill in bills:
        when = f"({bill.when}) " if bill.when else ""
        kind, key = KINDS.get(bill.kind, bill.kind), KEYS.get(bill.key, bill.key)
        available = AVAILABILITY.get(bill.availability, bill.availability)
        lines.append(f"  balance: {when}{kind} in {bill.units}")
        lines.append(f"  needs:   {key}; availability {available}")
    return lines
