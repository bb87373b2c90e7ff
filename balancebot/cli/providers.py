"""`balancebot providers`: the installed providers and what each needs to be watched."""

from __future__ import annotations

import msgspec

from ..errors import ConfigError
from ..plugins import PROVIDERS, available, distribution, provider_class


def providers_table() -> str:
    """One block per provider: its name for `provider = ...`, the key it needs, its hosts,
    its options with their defaults, and the package of a third-party one (a broken
    plugin is listed, not fatal)."""
    blocks = []
    for name in available(PROVIDERS):
        try:
            cls = provider_class(name)
        except (ConfigError, ImportError, AttributeError) as exc:
            blocks.append(f"{name}\n  cannot be loaded: {exc}")
            continue
        hosts = ", ".join(cls.default_hosts) or "none built in: base_url or options say"
        fields = [_option(field) for field in msgspec.structs.fields(cls.Options)]
        lines = [
            f"{name}  ({cls.display_name})",
            f"  key:     {cls.key_kind}",
            f"  host:    {hosts}",
        ]
        if fields:
            lines.append(f"  options: {', '.join(fields)}")
        if (origin := distribution(PROVIDERS, name)) != "balancebot":
            lines.append(f"  from:    {origin}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _option(field: msgspec.structs.FieldInfo) -> str:
    if field.default is not msgspec.NODEFAULT:
        return f"{field.encode_name}={field.default!r}"
    if field.default_factory is not msgspec.NODEFAULT:
        return f"{field.encode_name}={field.default_factory()!r}"
    return f"{field.encode_name} (required)"
