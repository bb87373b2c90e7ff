"""Balance providers: one per upstream API, found through `balancebot.providers` entry points.

The contract a provider implements is in `contract.py` (sans I/O), the engine that runs
it over HTTP in `engine.py` (shared parts, and the synchronous executor of the one-shot
`check`) and `aio.py` (the daemon's: one HTTP pool, a `Fetcher` per provider a config
names, and a fetch that records every failure after retrying transient ones).

`aio.py` is imported on first use of one of its names, so `check` never imports asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .contract import (
    HttpRequest,
    HttpResponse,
    NoOptions,
    Provider,
    provider_class,
    provider_title,
)
from .engine import SyncFetcher

if TYPE_CHECKING:
    from .aio import BalanceFetcher, Fetcher, build_providers, fetch_result, http_client

__all__ = [
    "BalanceFetcher",
    "Fetcher",
    "HttpRequest",
    "HttpResponse",
    "NoOptions",
    "Provider",
    "SyncFetcher",
    "build_providers",
    "fetch_result",
    "http_client",
    "provider_class",
    "provider_title",
]

_ASYNC = frozenset({"BalanceFetcher", "Fetcher", "build_providers", "fetch_result", "http_client"})


def __getattr__(name: str) -> Any:
    if name in _ASYNC:
        from . import aio

        return getattr(aio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
