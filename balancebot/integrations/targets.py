"""Naming a notifier's targets when their addresses are secrets.

A target's name goes into the outbox, logs and `/status`, so it must say where messages go
without the token in the address. Two addresses that mask alike get `#2`, `#3`, ...
"""

from __future__ import annotations

from urllib.parse import urlsplit


def masked_url(url: str) -> str:
    """`https://hooks.example.com/T0/abc?k=v` → `https://hooks.example.com/…`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def unique(labels: list[str]) -> list[str]:
    """The labels, in order, with a `#n` suffix on the second and later repeats."""
    seen: dict[str, int] = {}
    named = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        named.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return named


def url_secrets(url: str) -> set[str]:
    """The pieces of an address that hold its token (path, query), for log redaction: a
    library may log the URL in another spelling than the one configured."""
    parts = urlsplit(url)
    return {p for p in (parts.path, parts.query) if len(p.strip("/")) >= 4}
