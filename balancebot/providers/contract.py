"""The provider contract, sans I/O (the h11 way): a provider builds its requests and
parses the answers; the engine (`engine.py`) owns HTTP, deadlines, the body cap and retries.

So a provider is pure and trivially tested, the daemon runs it on the async lanes client
and `check` on plain synchronous httpx, and a third party writes one without touching
either. Generic over its options struct, so the engine hands it typed options, no cast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, Literal, TypeVar

from msgspec import Struct

from .. import plugins
from ..config import AccountConfig, Config
from ..config.secrets import sendable
from ..config.values import NoOptions as NoOptions
from ..errors import (
    AuthError,
    CheckError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
from ..models import BalanceSnapshot, CurrencyBalance
from ..redact import secrets_in
from ..retry import retry_after_seconds
from .strict import load_json

OptionsT = TypeVar("OptionsT", bound=Struct)

BalanceKind = Literal["prepaid", "spending limit", "credits", "points", "quota", "configured"]
"""What a provider's "balance" is (a WARNING at 50 means something else at each): a
prepaid balance, what is left of a key's spending limit, credits, points, a relay's
quota, or whatever a configured path reads."""

KeyScope = Literal["inference", "admin", "management", "access token", "cloud", "configured"]
"""Which key its balance endpoint takes (an inference key is the usual mistake where it
does not): the inference key, an admin or management key, an account's access token, a
cloud access key pair, or whatever the configuration places."""

Availability = Literal["reported", "from balance", "configured"]
"""Where `is_available` comes from: the API's own word, balancebot's reading of the
balance (> 0, or what the provider documents as blocking calls), or the configuration."""


@dataclass(frozen=True, slots=True)
class Bill:
    """One bill a provider can watch, shown by `balancebot providers`. A provider with
    modes that read different bills declares one per mode (`when="mode = credits"`)."""

    kind: BalanceKind
    key: KeyScope
    units: str
    """Its currencies or unit, and where they come from: "CNY on .cn, USD on .ai"."""
    availability: Availability = "from balance"
    when: str = ""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request to make. `secret` is the key inside it, redacted from anything quoted;
    `body` is sent as it is (a signed request's hash covers these exact bytes)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    secret: str = ""
    body: bytes = b""

    def __post_init__(self) -> None:
        """A URL or header the wire cannot carry (a line break from `${VAR}`, a non-ASCII
        value) is this account's failure, which retrying cannot fix: never an exception from
        deep in httpx that costs the other accounts their verdict (`validate` refuses
        what it can see; a plugin's provider may still build one)."""
        try:
            sendable(self.url, "the URL", "a request", spaces=False)
            for name, value in self.headers.items():
                sendable(name, "a header name", "an HTTP header", spaces=False)
                sendable(value, f"the value of header {name!r}", "an HTTP header")
        except ValueError as exc:
            raise RequestRejected(f"cannot send the request: {exc}") from None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back: status, headers (lower-case names), at most 256 KiB of body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Provider(ABC, Generic[OptionsT]):
    """One upstream API. Subclasses set the class attributes and the two methods.

    `requests` and `parse` must do no I/O; both may raise the `CheckError` family.
    The answers come back in the order of the requests."""

    display_name: ClassVar[str]
    Options: type[OptionsT]
    key_kind: ClassVar[str] = "API key"
    """Which key `api_key` must be (shown by `balancebot providers`)."""
    default_hosts: ClassVar[tuple[str, ...]] = ()
    """Where it calls when no `base_url` is set (the first is the default)."""
    needs_key: ClassVar[str] = ""
    """For an endpoint only an admin or management key may call: what a 401/403 says
    after the upstream's words ("the balance needs a fal admin key (where to get one)")."""
    bills: ClassVar[tuple[Bill, ...]] = ()
    """What it can tell (`Bill`); empty, as in a plugin written before this existed, is
    listed as "not declared"."""

    @abstractmethod
    def requests(self, account: AccountConfig, options: OptionsT) -> Sequence[HttpRequest]: ...

    @abstractmethod
    def parse(
        self,
        account: AccountConfig,
        options: OptionsT,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot: ...

    def sign(
        self, request: HttpRequest, account: AccountConfig, options: OptionsT, now: datetime
    ) -> HttpRequest:
        """The request as it goes out, at `now`: the engine's one clock, read right before
        sending (and again for a retry). A cloud's signature covers its time, so it is
        added here, not in `requests`; the default sends the request as built."""
        return request

    def secrets(self, options: OptionsT) -> set[str]:
        """What of `options` is masked in every log line, stored failure and alert (the
        key always is): its `Secret`s; override for secrets in plain strings."""
        return secrets_in(options)

    def error_for(
        self, request: HttpRequest, response: HttpResponse, now: datetime
    ) -> CheckError | None:
        """The error an HTTP status means, before `parse` sees the body. The default is
        the OpenAI-style mapping most providers share, with `needs_key` said on 401/403;
        override for special cases."""
        if self.needs_key and response.status in (401, 403):
            return key_needed(response, request.secret, self.needs_key)
        return status_error(response, now, secret=request.secret)


def base_url(account: AccountConfig, default: str) -> str:
    return (account.base_url or default).rstrip("/")


def one_balance(
    account: AccountConfig,
    taken_at: datetime,
    currency: str,
    total: Decimal,
    available: bool | None = None,
) -> BalanceSnapshot:
    """A snapshot of one currency from an answer that does not split granted from topped-up
    credit (all of it reads as topped up): usable while money is left, unless the answer
    says itself whether it is (`available`)."""
    return BalanceSnapshot(
        account=account.name,
        provider=account.provider,
        taken_at=taken_at,
        is_available=total > 0 if available is None else available,
        balances={currency: CurrencyBalance(total, Decimal(0), total)},
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": "application/json"}


def bearer_get(account: AccountConfig, url: str) -> list[HttpRequest]:
    """The one request most providers make: GET with the account's key as a Bearer token."""
    key = account.api_key.get_secret_value()
    return [HttpRequest("GET", url, bearer(key), secret=key)]


def status_error(response: HttpResponse, now: datetime, secret: str = "") -> CheckError | None:
    """The one mapping from HTTP statuses to balancebot's errors."""
    status = response.status
    if 200 <= status < 300:
        return None
    detail = error_message(response.body, secret)
    said = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        return AuthError(f"authentication failed ({said}); the API key is wrong or revoked")
    if status == 429:
        return RateLimited(f"rate limited ({said})", retry_after=retry_after(response, now))
    if status >= 500:
        return UpstreamUnavailable(f"server error ({said})")
    if 300 <= status < 400:
        return RequestRejected(f"redirected ({said}); redirects are not followed with the key")
    return RequestRejected(f"request rejected ({said})")


def key_needed(response: HttpResponse, secret: str, needed: str) -> AuthError:
    """A 401/403 from an endpoint only a special key may call: the upstream's words, then
    which key is needed (an inference key is the usual mistake, and looks like a bad one)."""
    detail = error_message(response.body, secret)
    said = f"HTTP {response.status}" + (f": {detail}" if detail else "")
    return AuthError(f"authentication failed ({said}); {needed}")


def error_message(body: bytes | Any, secret: str) -> str:
    """`error.message` (or `message`, `error`, `detail`) of an error body, shortened, the
    key removed."""
    try:
        data = load_json(body) if isinstance(body, bytes) else body
    except MalformedResponse:
        return ""
    message: object = None
    if isinstance(data, dict):
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else data.get("message")
        if message is None and isinstance(error, str):
            message = error
        if message is None:  # FastAPI's {"detail": "..."} (fal)
            message = data.get("detail")
    if not isinstance(message, str):
        return ""
    if secret:
        message = message.replace(secret, "***")
    return message[:200]


def retry_after(response: HttpResponse, now: datetime) -> float | None:
    return retry_after_seconds(response.headers.get("retry-after"), now)


def business_error(kind: str, message: str) -> CheckError:
    """An error an HTTP-200 answer carries, by what its words say (auth, rate, upstream)."""
    lowered = f"{kind} {message}".lower()
    if any(w in lowered for w in ("auth", "key", "token", "unauthorized", "forbidden")):
        return AuthError(f"authentication failed: {message}")
    if any(w in lowered for w in ("rate", "too many", "limit exceeded")):
        return RateLimited(f"rate limited: {message}")
    if any(w in lowered for w in ("busy", "unavailable", "internal", "timeout", "overload")):
        return UpstreamUnavailable(f"server error: {message}")
    return RequestRejected(f"request rejected: {message}")


def provider_class(name: str, where: str = "provider") -> type[Provider[Any]]:
    """The provider registered as `name` (`balancebot.providers` entry points)."""
    cls: type[Provider[Any]] = plugins.load(plugins.PROVIDERS, name, where)
    return cls


def provider_title(config: Config, account: str) -> str:
    """What people call an account's provider ("DeepSeek"), as alerts and charts name it."""
    name = next(a.provider for a in config.accounts if a.name == account)
    return provider_class(name).display_name
