"""Runs sans-I/O providers over HTTP: what both executors share, and the synchronous one
that `check` uses (no event loop: asyncio and anyio are never imported on that path; the
daemon's async executor is in `aio.py`).

Both executors keep the same guarantees: one deadline for the whole exchange (httpx's
read timeout is per chunk, and keep-alive blank lines would reset it forever), at most
256 KiB of body (inflated with a bound, `httpcap`: a gzip bomb never costs more), redirects
never followed (the key must not travel to another host), the key and the options'
secrets redacted from every message, and every failure a `CheckError`.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
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
from ..httpcap import sync_event_hooks
from ..models import BalanceSnapshot, CheckFailure, CheckResult, FailureKind
from ..redact import mask_runs, safe_message
from ..retry import Backoff, retry_transient_sync
from .contract import HttpRequest, HttpResponse, OptionsT, Provider, provider_class

MAX_BODY_BYTES = 256 * 1024
"""A balance answer is a few hundred bytes; anything far larger is not one."""
BODY_CAP = MAX_BODY_BYTES + 1
"""What the clients read and inflate of any answer (`httpcap`): one byte past the limit
is enough for `_Body` to call an answer too large; a gzip bomb never inflates further."""


def provider_options(provider: Provider[OptionsT], account: AccountConfig) -> OptionsT:
    """The account's `options` table as the provider's own struct."""
    try:
        return convert(account.options, provider.Options, ("options",))
    except ConfigError as exc:  # validated at load; only a config built by hand lands here
        raise RequestRejected("; ".join(exc.problems)) from None


def unreachable(exc: httpx.TransportError, request: HttpRequest, budget: float) -> CheckError:
    if isinstance(exc, httpx.ConnectTimeout):
        return Timeout(f"connecting took longer than {budget:g}s")
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"no complete answer within {budget:g}s")
    # httpx's text says why (refused, DNS, an untrusted TLS certificate), never the key
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if request.secret:
        reason = reason.replace(request.secret, "***")
    return UpstreamUnavailable(f"cannot reach {httpx.URL(request.url).host}: {reason}")


def timeouts(account: AccountConfig, left: float | None = None) -> httpx.Timeout:
    budget = account.timeout.total_seconds() if left is None else max(0.001, left)
    return httpx.Timeout(budget, connect=min(budget, account.connect_timeout.total_seconds()))


class Body:
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


def answer(response: httpx.Response, body: Body) -> HttpResponse:
    return HttpResponse(response.status_code, dict(response.headers), bytes(body.data))


class Run(Generic[OptionsT]):
    """One check of one account: the part both executors share."""

    def __init__(self, provider: Provider[OptionsT], account: AccountConfig, clock: Clock):
        self.provider = provider
        self.account = account
        self.clock = clock
        self.options = provider_options(provider, account)
        self.requests = provider.requests(account, self.options)
        self.responses: list[HttpResponse] = []

    def signed(self, request: HttpRequest) -> HttpRequest:
        """`request` as the provider sends it now (`Provider.sign`)."""
        return self.provider.sign(request, self.account, self.options, self.clock.now())

    def take(self, request: HttpRequest, response: HttpResponse) -> None:
        error = self.provider.error_for(request, response, self.clock.now())
        if error is not None:
            raise self._without_secrets(error)
        self.responses.append(response)

    def snapshot(self) -> BalanceSnapshot:
        try:
            return self.provider.parse(self.account, self.options, self.responses, self.clock.now())
        except CheckError as exc:
            raise self._without_secrets(exc) from None

    def _without_secrets(self, error: CheckError) -> CheckError:
        """The error without any piece of the key or another secret of the options: a
        hostile body may echo one where a parser quotes a value (cut to 20 characters, so
        not always the whole key)."""
        secrets = {self.account.api_key.get_secret_value()}
        secrets |= {r.secret for r in self.requests if r.secret}
        secrets |= self.provider.secrets(self.options)
        error.message = mask_runs(error.message, secrets)
        error.args = (error.message,)
        return error


class Deadline:
    """When a whole one-shot run must be over (`time.monotonic()`), and the seconds it was
    given, to say so: every attempt and every retry fits inside it."""

    def __init__(self, at: float, seconds: float) -> None:
        self.at = at
        self.seconds = seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def missed(self) -> Timeout:
        return Timeout(f"no complete answer within {self.seconds:g}s (check --timeout)")


class SyncFetcher(Generic[OptionsT]):
    """The same on plain synchronous httpx, for a one-shot `check` with no event loop."""

    def __init__(self, provider: Provider[OptionsT], http: httpx.Client, clock: Clock):
        self.provider = provider
        self.display_name = provider.display_name
        self._http = http
        self._clock = clock

    def fetch(self, account: AccountConfig, deadline: Deadline | None = None) -> BalanceSnapshot:
        """Within the account's `timeout`, or what is left of `deadline` when that is less
        (a timeout then names the deadline, which is what the user can change)."""
        run = Run(self.provider, account, self._clock)
        budget = account.timeout.total_seconds()
        cut = deadline is not None and deadline.left() < budget
        if deadline is not None and cut:
            budget = deadline.left()
            if budget <= 0:
                raise deadline.missed()
        ends = time.monotonic() + budget
        for built in run.requests:
            request = run.signed(built)
            try:
                response = self._exchange(request, account, ends)
            except TimeoutError:
                error: CheckError = Timeout(f"no complete answer within {budget:g}s")
            except httpx.TransportError as exc:
                error = unreachable(exc, request, budget)
            else:
                run.take(request, response)
                continue
            if deadline is not None and cut and isinstance(error, Timeout):
                error = deadline.missed()
            raise error from None
        return run.snapshot()

    def _exchange(self, request: HttpRequest, account: AccountConfig, ends: float) -> HttpResponse:
        left = ends - time.monotonic()
        if left <= 0:
            raise TimeoutError
        with self._http.stream(
            request.method,
            request.url,
            headers=request.headers,
            content=request.body or None,
            timeout=timeouts(account, left),
        ) as response:
            body = Body(response.is_success)
            for chunk in response.iter_bytes():
                if time.monotonic() > ends:  # a drip of keep-alive lines
                    raise TimeoutError
                if not body.add(chunk):
                    break
            return answer(response, body)


class _LazyTLS(httpx.BaseTransport):
    """Plain http on a transport whose TLS context trusts nothing (it never needs one:
    no proxy, no redirects), https on one built with `trust()` at its first request. A
    check of an `http://` gateway never parses the CA bundle (~150 certificates)."""

    def __init__(self, limits: httpx.Limits, trust: Callable[[], ssl.SSLContext]) -> None:
        self._limits = limits
        self._trust = trust
        self._plain = httpx.HTTPTransport(
            verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), limits=limits
        )
        self._secure: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            return self._plain.handle_request(request)
        with self._lock:
            if self._secure is None:
                try:
                    context = self._trust()
                except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                    # not transient: a retry would read the same files
                    where = "SSL_CERT_FILE, SSL_CERT_DIR or certifi's bundle"
                    raise CheckError(f"cannot load CA certificates ({where}): {exc}") from None
                self._secure = httpx.HTTPTransport(verify=context, limits=self._limits)
        return self._secure.handle_request(request)

    def close(self) -> None:
        self._plain.close()
        if self._secure is not None:
            self._secure.close()


def sync_client(
    connections: int = 1, trust: Callable[[], ssl.SSLContext] | None = None
) -> httpx.Client:
    """The client `SyncFetcher` expects: no redirects, balancebot's User-Agent.

    `trust`: the TLS context to verify with (httpx's default when None), asked for only
    when an https request comes. With a proxy in the environment (HTTPS_PROXY and
    friends) httpx's own transports are used, as only they apply those variables."""
    trust = trust or httpx.create_ssl_context
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    common: dict[str, Any] = {"headers": {"User-Agent": "balancebot"}, "follow_redirects": False}
    common["event_hooks"] = sync_event_hooks(BODY_CAP, BODY_CAP)
    if urllib.request.getproxies():
        return httpx.Client(verify=trust(), limits=limits, **common)
    return httpx.Client(transport=_LazyTLS(limits, trust), **common)


def fetch_result_sync(
    fetcher: SyncFetcher[Any],
    account: AccountConfig,
    clock: Clock,
    backoff: Backoff,
    rng: random.Random,
    deadline: Deadline | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """A snapshot, or the failure that stopped us getting one (after retries; with a
    `deadline`, no retry whose wait would end past it)."""
    try:
        return retry_transient_sync(
            lambda: fetcher.fetch(account, deadline),
            backoff,
            rng,
            sleep,
            time_left=deadline.left if deadline is not None else None,
        )
    except CheckError as exc:
        return CheckFailure(account.name, account.provider, clock.now(), exc.kind, exc.message)
    except Exception as exc:  # this account's UNKNOWN, not an internal error for them all
        failure = internal_failure(account, exc, clock.now())
        return replace(failure, message=safe_message(failure.message))


MESSAGE_LIMIT = 300
"""An exception's text kept in an internal failure, at most (some carry whole bodies)."""


def internal_failure(account: AccountConfig, exc: BaseException, now: datetime) -> CheckFailure:
    """An exception nobody expected in a check, as the failure it is (kind `internal`), so
    rules see it and `check` can say UNKNOWN. Scrub the message before showing it."""
    detail = " ".join(str(exc)[:MESSAGE_LIMIT].split())
    message = f"internal error: {type(exc).__name__}" + (f": {detail}" if detail else "")
    return CheckFailure(account.name, account.provider, now, FailureKind.INTERNAL, message)


def fetch_all_sync(
    config: Config,
    clock: Clock,
    backoff: Backoff,
    deadline: Deadline | None = None,
    trust: Callable[[], ssl.SSLContext] | None = None,
    rng: random.Random | None = None,
) -> list[CheckResult]:
    """Every account once, `max_concurrent_checks` at a time on threads, in config order:
    the one-shot `check` with no event loop.

    The `deadline` is kept here, not trusted to socket timeouts (a read timeout restarts
    with each chunk): an account still unanswered then is a `Timeout`, and its thread, a
    daemon thread, is left to end on its own timeout while the caller reports and exits."""

    rng = rng or random.Random()
    accounts = list(enumerate(config.accounts))
    workers = max(1, min(config.max_concurrent_checks, len(accounts)))
    results: dict[int, CheckResult] = {}
    crashed: list[BaseException] = []
    lock, finished = threading.Lock(), threading.Event()
    http = sync_client(workers, trust)
    fetchers = {
        name: SyncFetcher(provider_class(name)(), http, clock)
        for name in {a.provider for a in config.accounts}
    }

    def work() -> None:
        while not finished.is_set():
            with lock:
                if not accounts:
                    return
                index, account = accounts.pop(0)
            try:
                result = fetch_result_sync(
                    fetchers[account.provider], account, clock, backoff, rng, deadline
                )
            except BaseException as exc:  # a bug: the caller raises it, nothing is lost
                crashed.append(exc)
                finished.set()
                return
            with lock:
                results[index] = result
                if len(results) == len(config.accounts):
                    finished.set()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    if not accounts:
        finished.set()
    for thread in threads:
        thread.start()
    finished.wait(None if deadline is None else max(0.0, deadline.left()))
    if crashed:
        raise crashed[0]
    with lock:
        finished.set()  # workers take no further account
        done = dict(results)
    if len(done) == len(config.accounts):
        http.close()  # else a thread still uses it: the process ends before it does
    return [
        done[i] if i in done else _missed(account, clock, deadline)
        for i, account in enumerate(config.accounts)
    ]


def _missed(account: AccountConfig, clock: Clock, deadline: Deadline | None) -> CheckFailure:
    assert deadline is not None  # without one, every account has a result
    error = deadline.missed()
    return CheckFailure(account.name, account.provider, clock.now(), error.kind, error.message)
