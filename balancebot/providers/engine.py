"""Runs sans-I/O providers over HTTP: async on the daemon's shared client, sync for `check`.

Both executors keep the same guarantees: one deadline for the whole exchange (httpx's
read timeout is per chunk, and keep-alive blank lines would reset it forever), at most
256 KiB of body, redirects never followed (the key must not travel to another host), the
key redacted from every message, and every failure a `CheckError`.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Callable
from typing import Any, Generic

import httpx

from ..clock import Clock
from ..config import AccountConfig, Config, convert
from ..errors import (
    CheckError,
    ConfigError,
    MalformedResponse,
    RequestRejected,
    Timeout,
    UpstreamUnavailable,
)
from ..models import BalanceSnapshot, CheckFailure, CheckResult
from ..retry import Backoff, retry_transient_sync
from .contract import HttpRequest, HttpResponse, OptionsT, Provider

MAX_BODY_BYTES = 256 * 1024
"""A balance answer is a few hundred bytes; anything far larger is not one."""


def provider_options(provider: Provider[OptionsT], account: AccountConfig) -> OptionsT:
    """The account's `options` table as the provider's own struct."""
    try:
        return convert(account.options, provider.Options, ("options",))
    except ConfigError as exc:  # validated at load; only a config built by hand lands here
        raise RequestRejected("; ".join(exc.problems)) from None


def _unreachable(exc: httpx.TransportError, request: HttpRequest, budget: float) -> CheckError:
    if isinstance(exc, httpx.ConnectTimeout):
        return Timeout(f"connecting took longer than {budget:g}s")
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"no complete answer within {budget:g}s")
    # httpx's text says why (refused, DNS, an untrusted TLS certificate), never the key
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if request.secret:
        reason = reason.replace(request.secret, "***")
    return UpstreamUnavailable(f"cannot reach {httpx.URL(request.url).host}: {reason}")


def _timeouts(account: AccountConfig, left: float | None = None) -> httpx.Timeout:
    budget = account.timeout.total_seconds() if left is None else max(0.001, left)
    return httpx.Timeout(budget, connect=min(budget, account.connect_timeout.total_seconds()))


class _Body:
    """Collects a body up to the cap; an oversized error page is cut, its status says enough."""

    def __init__(self, success: bool) -> None:
        self.data = bytearray()
        self._success = success

    def add(self, chunk: bytes) -> bool:
        """False when no more should be read."""
        self.data += chunk
        if len(self.data) > MAX_BODY_BYTES:
            if self._success:
                raise MalformedResponse(f"response larger than {MAX_BODY_BYTES // 1024} KiB")
            return False
        return True


def _answer(response: httpx.Response, body: _Body) -> HttpResponse:
    return HttpResponse(response.status_code, dict(response.headers), bytes(body.data))


class _Run(Generic[OptionsT]):
    """One check of one account: the part both executors share."""

    def __init__(self, provider: Provider[OptionsT], account: AccountConfig, clock: Clock):
        self.provider = provider
        self.account = account
        self.clock = clock
        self.options = provider_options(provider, account)
        self.requests = provider.requests(account, self.options)
        self.responses: list[HttpResponse] = []

    def take(self, request: HttpRequest, response: HttpResponse) -> None:
        error = self.provider.error_for(request, response, self.clock.now())
        if error is not None:
            raise self._scrubbed(error)
        self.responses.append(response)

    def snapshot(self) -> BalanceSnapshot:
        try:
            return self.provider.parse(self.account, self.options, self.responses, self.clock.now())
        except CheckError as exc:
            raise self._scrubbed(exc) from None

    def _scrubbed(self, error: CheckError) -> CheckError:
        """The error without any piece of the key or another secret of the options: a
        hostile body may echo one where a parser quotes a value (cut to 20 characters, so
        not always the whole key)."""
        message = error.message
        for secret in (
            {self.account.api_key.get_secret_value()}
            | {r.secret for r in self.requests if r.secret}
            | self.provider.secrets(self.options)
        ):
            message = scrub(message, secret)
        error.message = message
        error.args = (message,)
        return error


def scrub(message: str, secret: str, shortest: int = 8) -> str:
    """`message` with the secret and every run of `shortest` or more of its characters
    replaced by ***, longest first."""
    if len(secret) < shortest:
        return message.replace(secret, "***") if secret else message
    for size in range(len(secret), shortest - 1, -1):
        for start in range(len(secret) - size + 1):
            part = secret[start : start + size]
            if part in message:
                message = message.replace(part, "***")
    return message


class Fetcher(Generic[OptionsT]):
    """A provider on the daemon's shared async client (the lanes transport)."""

    def __init__(self, provider: Provider[OptionsT], http: httpx.AsyncClient, clock: Clock):
        self.provider = provider
        self.display_name = provider.display_name
        self._http = http
        self._clock = clock

    async def fetch(self, account: AccountConfig) -> BalanceSnapshot:
        run = _Run(self.provider, account, self._clock)
        budget = account.timeout.total_seconds()
        try:
            async with asyncio.timeout(budget):  # one deadline for all of the check's requests
                for request in run.requests:
                    try:
                        response = await self._exchange(request, account)
                    except httpx.TransportError as exc:
                        raise _unreachable(exc, request, budget) from None
                    run.take(request, response)
        except TimeoutError:
            raise Timeout(f"no complete answer within {budget:g}s") from None
        return run.snapshot()

    async def _exchange(self, request: HttpRequest, account: AccountConfig) -> HttpResponse:
        async with self._http.stream(
            request.method, request.url, headers=request.headers, timeout=_timeouts(account)
        ) as response:
            body = _Body(response.is_success)
            async for chunk in response.aiter_bytes():
                if not body.add(chunk):
                    break
            return _answer(response, body)


class SyncFetcher(Generic[OptionsT]):
    """The same on plain synchronous httpx, for a one-shot `check` with no event loop."""

    def __init__(self, provider: Provider[OptionsT], http: httpx.Client, clock: Clock):
        self.provider = provider
        self.display_name = provider.display_name
        self._http = http
        self._clock = clock

    def fetch(self, account: AccountConfig) -> BalanceSnapshot:
        run = _Run(self.provider, account, self._clock)
        budget = account.timeout.total_seconds()
        deadline = time.monotonic() + budget
        for request in run.requests:
            try:
                response = self._exchange(request, account, deadline)
            except TimeoutError:
                raise Timeout(f"no complete answer within {budget:g}s") from None
            except httpx.TransportError as exc:
                raise _unreachable(exc, request, budget) from None
            run.take(request, response)
        return run.snapshot()

    def _exchange(
        self, request: HttpRequest, account: AccountConfig, deadline: float
    ) -> HttpResponse:
        left = deadline - time.monotonic()
        with self._http.stream(
            request.method, request.url, headers=request.headers, timeout=_timeouts(account, left)
        ) as response:
            body = _Body(response.is_success)
            for chunk in response.iter_bytes():
                if time.monotonic() > deadline:  # a drip of keep-alive lines
                    raise TimeoutError
                if not body.add(chunk):
                    break
            return _answer(response, body)


def sync_client(connections: int = 1, verify: ssl.SSLContext | None = None) -> httpx.Client:
    """The client `SyncFetcher` expects: no redirects, balancebot's User-Agent."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(
        headers={"User-Agent": "balancebot"},
        follow_redirects=False,
        limits=limits,
        verify=verify or httpx.create_ssl_context(),
    )


def fetch_result_sync(
    fetcher: SyncFetcher[Any],
    account: AccountConfig,
    clock: Clock,
    backoff: Backoff,
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """A snapshot, or the failure that stopped us getting one (after retries)."""
    try:
        return retry_transient_sync(lambda: fetcher.fetch(account), backoff, rng, sleep)
    except CheckError as exc:
        return CheckFailure(account.name, account.provider, clock.now(), exc.kind, exc.message)


def fetch_all_sync(
    config: Config,
    clock: Clock,
    backoff: Backoff,
    tls: ssl.SSLContext | None = None,
    rng: random.Random | None = None,
) -> list[CheckResult]:
    """Every account once, `max_concurrent_checks` at a time on threads, in config order:
    the one-shot `check` with no event loop."""
    from concurrent.futures import ThreadPoolExecutor

    from ..plugins import provider_class

    workers = max(1, min(config.max_concurrent_checks, len(config.accounts)))
    rng = rng or random.Random()
    with sync_client(workers, tls) as http, ThreadPoolExecutor(workers) as pool:
        fetchers = {
            name: SyncFetcher(provider_class(name)(), http, clock)
            for name in {a.provider for a in config.accounts}
        }
        return list(
            pool.map(
                lambda a: fetch_result_sync(fetchers[a.provider], a, clock, backoff, rng),
                config.accounts,
            )
        )
