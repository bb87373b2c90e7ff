"""one-api and new-api relay sites (thousands of them): a token's quota left, or (new-api's
account mode) the whole account's.

`/v1/dashboard/billing/subscription` gives `hard_limit_usd` (the token's whole quota) and
`/v1/dashboard/billing/usage` `total_usage` in **hundredths**; what is left is
`hard_limit_usd - total_usage / 100`, the formula one-api uses on its own upstreams. An
unlimited token reports 100,000,000. new-api gives these in the site's display unit, read
from its public `/api/status`. Errors often come as HTTP 200 with an `error` object.
new-api's account mode is in `account.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from ...config import AccountConfig
from ...errors import CheckError, RequestRejected
from ...models import BalanceSnapshot, CurrencyBalance
from ..contract import (
    Bill,
    HttpRequest,
    HttpResponse,
    NoOptions,
    Provider,
    bearer,
    business_error,
    key_needed,
    status_error,
)
from ..strict import amount, load_json, obj, text
from .account import ACCESS_TOKEN, SELF, STATUS, account_balance, display_currency, status_data

SUBSCRIPTION = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"
UNLIMITED = Decimal(100_000_000)


def _answer(response: HttpResponse, where: str) -> Mapping[str, Any]:
    data = obj(load_json(response.body), where)
    error = data.get("error")
    if error is not None:
        error = obj(error, f"{where}.error")
        kind = str(error.get("type") or error.get("code") or "")[:40]
        raise business_error(kind, text(error.get("message"), f"{where}.error.message"))
    return data


def _site(account: AccountConfig) -> str:
    if account.base_url is None:
        raise RequestRejected("base_url is required: the relay site's address")
    return account.base_url.rstrip("/").removesuffix("/v1")


def _token_requests(account: AccountConfig) -> list[HttpRequest]:
    base, key = _site(account), account.api_key.get_secret_value()
    return [
        HttpRequest("GET", base + SUBSCRIPTION, bearer(key), secret=key),
        HttpRequest("GET", base + USAGE, bearer(key), secret=key),
    ]


def _snapshot(
    account: AccountConfig, taken_at: datetime, code: str, balance: CurrencyBalance | None
) -> BalanceSnapshot:
    """`balance` None: an unlimited token, no cap rather than a balance."""
    return BalanceSnapshot(
        account=account.name,
        provider=account.provider,
        taken_at=taken_at,
        is_available=balance is None or balance.total > 0,
        balances={} if balance is None else {code: balance},
        uncapped=balance is None,
    )


def _token_quota(responses: Sequence[HttpResponse]) -> CurrencyBalance | None:
    granted = amount(_answer(responses[0], "subscription").get("hard_limit_usd"), "hard_limit_usd")
    hundredths = amount(_answer(responses[1], "usage").get("total_usage"), "total_usage")
    if granted >= UNLIMITED:
        return None
    used = hundredths.scaleb(-2)
    left = granted - used
    return CurrencyBalance(left, Decimal(0), left, limit=granted, used=used)


class OneApiProvider(Provider[NoOptions]):
    display_name = "one-api relay"
    Options = NoOptions
    bills = (Bill("quota", "inference", "USD"),)
    key_kind = "the relay site's sk- token"
    default_hosts = ()  # base_url: the relay site

    def requests(self, account: AccountConfig, options: NoOptions) -> list[HttpRequest]:
        return _token_requests(account)

    def parse(
        self,
        account: AccountConfig,
        options: NoOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        return _snapshot(account, taken_at, "USD", _token_quota(responses))


class NewApiOptions(Struct, frozen=True, forbid_unknown_fields=True):
    mode: Literal["token", "account"] = "token"
    """`token`: what is left of the `sk-` token's quota; `account`: the user's whole quota,
    with the user's access token as `api_key` and `user_id`."""
    user_id: Annotated[int, Meta(gt=0)] | None = None


_SITE_UNIT = "the site's display unit (USD or CNY, from /api/status)"


class NewApiProvider(Provider[NewApiOptions]):
    display_name = "new-api relay"
    Options = NewApiOptions
    bills = (
        Bill("quota", "inference", _SITE_UNIT, when="mode = token"),
        Bill("quota", "access token", _SITE_UNIT, when="mode = account"),
    )
    key_kind = "the site's sk- token (mode token) or the user's access token (mode account)"
    default_hosts = ()  # base_url: the relay site

    def requests(self, account: AccountConfig, options: NewApiOptions) -> list[HttpRequest]:
        status = HttpRequest("GET", _site(account) + STATUS, {"Accept": "application/json"})
        if options.mode == "token":
            if options.user_id is not None:
                raise RequestRejected('options.user_id is only read with mode = "account"')
            return [*_token_requests(account), status]
        if options.user_id is None:
            raise RequestRejected(
                'options.user_id is required with mode = "account": the user id the site '
                "shows in its personal settings"
            )
        key = account.api_key.get_secret_value()
        headers = {**bearer(key), "New-Api-User": str(options.user_id)}
        return [HttpRequest("GET", _site(account) + SELF, headers, secret=key), status]

    def error_for(
        self, request: HttpRequest, response: HttpResponse, now: datetime
    ) -> CheckError | None:
        if response.status in (401, 403) and request.url.endswith(SELF):
            return key_needed(response, request.secret, ACCESS_TOKEN)
        return status_error(response, now, secret=request.secret)

    def parse(
        self,
        account: AccountConfig,
        options: NewApiOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        status = status_data(responses[-1])
        if options.mode == "token":
            code = display_currency(status)
            return _snapshot(account, taken_at, code, _token_quota(responses))
        code, balance = account_balance(responses[0], status)
        return _snapshot(account, taken_at, code, balance)
