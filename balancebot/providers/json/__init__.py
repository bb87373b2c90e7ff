"""A generic JSON endpoint, for the long tail of providers without a built-in one.

Everything comes from the account's options: the URL and method, where the key goes
(`auth`), a JMESPath condition that must hold for the answer to count (`success`),
JMESPaths to the balance and its currency (or a fixed currency), a divisor for APIs that
count in cents or ten-thousandths, and availability from a path or `balance > 0`. A path
that finds nothing, or a non-number, is a malformed answer, never zero. Redirects are
never followed (the key must not travel to whatever host a redirect names).

Header values and the URL's query values and password are secrets, as the key is: masked
in logs, stored failures and alerts (an upstream may echo them), except the headers named
in `public_headers`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import unquote, unquote_plus, urlsplit

import jmespath
from jmespath.exceptions import JMESPathError
from msgspec import Meta, Struct, field

from ...config import AccountConfig, HeaderValue, HttpUrl
from ...errors import MalformedResponse, RequestRejected
from ...models import CURRENCY_PATTERN, BalanceSnapshot, currency
from ...redact import secrets_in
from ..contract import (
    Bill,
    HttpRequest,
    HttpResponse,
    Provider,
    business_error,
    error_message,
    one_balance,
)
from ..strict import amount, boolean, load_json

_AUTH_HEADERS = {"bearer": "Authorization", "x-api-key": "x-api-key"}


class JsonOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    url: HttpUrl
    balance: str
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, HeaderValue] = field(default_factory=dict)
    public_headers: list[str] = field(default_factory=list)  # values that are not secrets
    public_query: list[str] = field(default_factory=list)  # the same for the URL's query
    auth: Literal["bearer", "header", "x-api-key", "none"] = "bearer"
    auth_header: str = "Authorization"
    success: str | None = None
    currency: Annotated[str, Meta(pattern=CURRENCY_PATTERN)] | None = None
    currency_path: str | None = None
    divisor: Annotated[int, Meta(gt=0)] = 1
    available: str | None = None
    negative: bool = False

    def __post_init__(self) -> None:
        if (self.currency is None) == (self.currency_path is None):
            raise ValueError("set exactly one of currency and currency_path")
        for name in ("balance", "success", "currency_path", "available"):
            expression = getattr(self, name)
            if expression is not None:
                try:
                    jmespath.compile(expression)
                except JMESPathError as exc:
                    raise ValueError(f"{name}: not a JMESPath expression ({exc})") from None
        for header in (self.auth_header, *self.headers):
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", header):
                raise ValueError(f"{header!r} is not a header name (letters, digits, -)")
        names = {name.lower() for name in self.headers}
        for name in self.public_headers:
            if name.lower() not in names:
                raise ValueError(f"public_headers: {name!r} is not one of headers")
        params = {name for name, _ in _query(self.url)}
        for name in self.public_query:
            if name not in params:
                raise ValueError(f"public_query: {name!r} is not a parameter of url")

    def secrets(self) -> Iterator[str]:
        """Each header value (and its long words: `Token abc...` may be echoed without
        `Token`) and each query value but the public ones, and the URL's password: as
        written and decoded."""
        public = {name.lower() for name in self.public_headers}
        for name, value in self.headers.items():
            if name.lower() not in public:
                yield value
                yield from (word for word in value.split() if len(word) >= 8)
        for name, query_value in _query(self.url):
            if name not in self.public_query:
                yield from (query_value, unquote_plus(query_value), unquote(query_value))
        parts = urlsplit(self.url)
        if parts.password:  # sent as `Authorization: Basic base64(user:password)`
            user, password = unquote(parts.username or ""), unquote(parts.password)
            yield from (parts.password, password)
            yield base64.b64encode(f"{user}:{password}".encode()).decode()


def _query(url: str) -> Iterator[tuple[str, str]]:
    """(name, value) of each parameter of the URL's query, as written."""
    for piece in urlsplit(url).query.split("&"):
        name, _, value = piece.partition("=")
        yield unquote_plus(name), value


def _search(expression: str, data: Any, name: str) -> Any:
    try:
        return jmespath.search(expression, data)
    except JMESPathError as exc:  # a type error inside the expression, e.g. `a > 'x'`
        raise MalformedResponse(f"{name} ({expression}) failed: {exc}") from None


class JsonProvider(Provider[JsonOptions]):
    display_name = "JSON endpoint"
    Options = JsonOptions
    bills = (Bill("configured", "configured", "the configured currency", "configured"),)
    key_kind = "whatever the endpoint takes (auth: bearer, header, x-api-key or none)"

    def secrets(self, options: JsonOptions) -> set[str]:
        return secrets_in(options) | {s for s in options.secrets() if len(s) >= 4}

    def requests(self, account: AccountConfig, options: JsonOptions) -> list[HttpRequest]:
        key = account.api_key.get_secret_value()
        headers: dict[str, str] = {"Accept": "application/json", **options.headers}
        if options.auth != "none":
            name = _AUTH_HEADERS.get(options.auth, options.auth_header)
            headers[name] = f"Bearer {key}" if options.auth == "bearer" else key
        secret = "" if options.auth == "none" else key
        return [HttpRequest(options.method, options.url, headers, secret=secret)]

    def parse(
        self,
        account: AccountConfig,
        options: JsonOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = load_json(responses[0].body)
        if options.success is not None and _search(options.success, data, "success") is not True:
            said = error_message(data, account.api_key.get_secret_value())
            kind = type(business_error("", said)) if said else RequestRejected
            raise kind(f"success ({options.success}) does not hold" + (f": {said}" if said else ""))
        found = _search(options.balance, data, "balance")
        if found is None:
            raise MalformedResponse(f"balance ({options.balance}) found nothing")
        total = amount(found, "balance", negative=options.negative) / Decimal(options.divisor)
        code = options.currency
        if options.currency_path is not None:
            try:
                code = currency(_search(options.currency_path, data, "currency_path"))
            except ValueError as exc:
                raise MalformedResponse(f"currency_path: {exc}") from None
        assert code is not None  # one of the two is set (JsonOptions.__post_init__)
        available = (
            total > 0
            if options.available is None
            else boolean(_search(options.available, data, "available"), "available")
        )
        return one_balance(account, taken_at, code, total, available)
