"""The daemon's half of the provider engine: providers on one shared async client (the
lanes transport), and a fetch that turns every `CheckError` into a recorded `CheckFailure`
after retrying transient ones. Imported on first use (see `__init__.py`), so the one-shot
`check`, which runs `engine.SyncFetcher` on threads, never imports asyncio.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import urllib.request
from typing import Any, Generic, Protocol

import httpx

from ..clock import Clock
from ..config import AccountConfig, Config
from ..errors import CheckError, Timeout
from ..httpcap import event_hooks
from ..models import BalanceSnapshot, CheckFailure, CheckResult
from ..retry import Backoff, retry_transient
from .contract import HttpRequest, HttpResponse, OptionsT, Provider, provider_class
from .engine import BODY_CAP, Body, Run, answer, timeouts, unreachable
from .lanes import LaneTransport


class Fetcher(Generic[OptionsT]):
    """A provider on the daemon's shared async client (the lanes transport)."""

    def __init__(self, provider: Provider[OptionsT], http: httpx.AsyncClient, clock: Clock):
        self.provider = provider
        self.display_name = provider.display_name
        self._http = http
        self._clock = clock

    async def fetch(self, account: AccountConfig) -> BalanceSnapshot:
        run = Run(self.provider, account, self._clock)
        budget = account.timeout.total_seconds()
        try:
            async with asyncio.timeout(budget):  # one deadline for all of the check's requests
                for built in run.requests:
                    request = run.signed(built)
                    try:
                        response = await self._exchange(request, account)
                    except httpx.TransportError as exc:
                        raise unreachable(exc, request, budget) from None
                    run.take(request, response)
        except TimeoutError:
            raise Timeout(f"no complete answer within {budget:g}s") from None
        return run.snapshot()

    async def _exchange(self, request: HttpRequest, account: AccountConfig) -> HttpResponse:
        async with self._http.stream(
            request.method,
            request.url,
            headers=request.headers,
            content=request.body or None,
            timeout=timeouts(account),
        ) as response:
            body = Body(response.is_success)
            async for chunk in response.aiter_bytes():
                if not body.add(chunk):
                    break
            return answer(response, body)


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
    common["event_hooks"] = event_hooks(BODY_CAP, BODY_CAP)
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
