"""Balance providers: one per upstream API, found through `balancebot.providers` entry points.

The contract a provider implements is in `contract.py` (sans I/O), the engine that runs
it over HTTP in `engine.py`. Here: what every caller of providers shares (the daemon and
the one-shot check): one HTTP pool, a `Fetcher` per provider a config names, and a fetch
that turns every `CheckError` into a recorded `CheckFailure` after retrying transient ones.
"""

from __future__ import annotations

import random
import ssl
import urllib.request
from typing import Any, Protocol

import httpx

from ..clock import Clock
from ..config import AccountConfig, Config
from ..errors import CheckError
from ..models import BalanceSnapshot, CheckFailure, CheckResult
from ..plugins import provider_class
from ..retry import Backoff, retry_transient
from .contract import HttpRequest, HttpResponse, NoOptions, Provider
from .engine import Fetcher, SyncFetcher
from .lanes import LaneTransport

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
]


class BalanceFetcher(Protocol):
    """What the checks run: one account's balance, or the `CheckError` family."""

    @property
    def display_name(self) -> str: ...

    async def fetch(self, account: AccountConfig) -> BalanceSnapshot: ...


def http_client(config: Config, tls: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    """One client for every account, with a connection per concurrent check (see
    `lanes.py`); timeouts are set per request from each account.

    `tls`: a context already loaded (see `tls.py`); httpx's default when None. With a
    proxy in the environment (HTTPS_PROXY and friends), httpx's own pool is used as it
    comes, since only it applies those variables and NO_PROXY."""
    ssl_context = tls or httpx.create_ssl_context()
    common: dict[str, Any] = {"headers": {"User-Agent": "balancebot"}, "follow_redirects": False}
    if urllib.request.getproxies():
        size = config.max_concurrent_checks
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        return httpx.AsyncClient(verify=ssl_context, limits=limits, **common)
    lanes = min(config.max_concurrent_checks, len(config.accounts))
    return httpx.AsyncClient(transport=LaneTransport(lanes, ssl_context), **common)


def build_providers(
    config: Config, http: httpx.AsyncClient, clock: Clock
) -> dict[str, BalanceFetcher]:
    """A fetcher per provider the accounts name, all on the one shared client."""
    return {
        name: Fetcher(provider_class(name)(), http, clock)
        for name in {a.provider for a in config.accounts}
    }


async def fetch_result(
    provider: BalanceFetcher,
    account: AccountConfig,
    clock: Clock,
    backoff: Backoff,
    rng: random.Random,
) -> CheckResult:
    """A snapshot, or the failure that stopped us getting one (after retries)."""
    try:
        return await retry_transient(lambda: provider.fetch(account), backoff, clock, rng)
    except CheckError as exc:
        return CheckFailure(account.name, account.provider, clock.now(), exc.kind, exc.message)
