"""Runs sans-I/O providers over HTTP: async on the daemon's shared client, sync for `check`.

Both executors keep the same guarantees: one deadline for the whole exchange (httpx's
read timeout is per chunk, and keep-alive blank lines would reset it forever), at most
256 KiB of body, redirects never followed (the key must not travel to another host), the
key redacted from every message, and every failure a `CheckError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Generic

import httpx

from ..clock import Clock
from ..config import AccountConfig, convert
from ..errors import (
    CheckError,
    ConfigError,
    MalformedResponse,
    RequestRejected,
    Timeout,
    UpstreamUnavailable,
)
from ..models import BalanceSnapshot
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
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"connecting took longer than {budget:g}s")
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
            raise error
        self.responses.append(response)

    def snapshot(self) -> BalanceSnapshot:
        return self.provider.parse(self.account, self.options, self.responses, self.clock.now())


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


def sync_client() -> httpx.Client:
    """The client `SyncFetcher` expects: no redirects, balancebot's User-Agent."""
    return httpx.Client(headers={"User-Agent": "balancebot"}, follow_redirects=False)


__all__: Sequence[str] = ("MAX_BODY_BYTES", "Fetcher", "SyncFetcher", "provider_options")
