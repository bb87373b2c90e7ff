"""Balance providers: one per upstream API, found through `balancebot.providers` entry points.

Also the helpers every caller of providers shares (the daemon and the one-shot check):
one HTTP pool, the provider instances a config needs, and a fetch that turns every
`CheckError` into a recorded `CheckFailure` after retrying the transient ones.
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
from .lanes import LaneTransport


class Provider(Protocol):
    """Fetches one account's balance, raising the `CheckError` family on failure."""

    display_name: str

    async def fetch(self, account: AccountConfig) -> BalanceSnapshot: ...


class ProviderFactory(Protocol):
    """What an entry point names: built once per process with the shared HTTP pool."""

    def __call__(self, http: httpx.AsyncClient, clock: Clock) -> Provider: ...


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


def build_providers(config: Config, http: httpx.AsyncClient, clock: Clock) -> dict[str, Provider]:
    return {
        name: provider_class(name)(http, clock) for name in {a.provider for a in config.accounts}
    }


async def fetch_result(
    provider: Provider, account: AccountConfig, clock: Clock, backoff: Backoff, rng: random.Random
) -> CheckResult:
    """A snapshot, or the failure that stopped us getting one (after retries)."""
    try:
        return await retry_transient(lambda: provider.fetch(account), backoff, clock, rng)
    except CheckError as exc:
        return CheckFailure(account.name, account.provider, clock.now(), exc.kind, exc.message)
