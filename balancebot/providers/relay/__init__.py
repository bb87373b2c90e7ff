"""one-api and new-api relay sites (thousands of them): the token's quota left.

`/v1/dashboard/billing/subscription` gives `hard_limit_usd` (the token's whole quota) and
`/v1/dashboard/billing/usage` `total_usage` in **hundredths**; what is left is
`hard_limit_usd - total_usage / 100`, the formula one-api uses on its own upstreams. An
unlimited token reports 100,000,000. new-api gives these in the site's display unit, read
from its public `/api/status`. Errors often come as HTTP 200 with an `error` object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from ...config import AccountConfig
from ...errors import MalformedResponse, RequestRejected
from ...models import BalanceSnapshot, CurrencyBalance
from ..contract import HttpRequest, HttpResponse, NoOptions, Provider, bearer, business_error
from ..strict import amount, load_json, obj, text

SUBSCRIPTION = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"
STATUS = "/api/status"
UNLIMITED = Decimal(100_000_000)
DISPLAY_CURRENCIES = {"USD": "USD", "CNY": "CNY"}


def _answer(response: HttpResponse, where: str) -> Mapping[str, Any]:
    data = obj(load_json(response.body), where)
    error = data.get("error")
    if error is not None:
        error = obj(error, f"{where}.error")
        kind = str(error.get("type") or error.get("code") or "")[:40]
        raise business_error(kind, text(error.get("message"), f"{where}.error.message"))
    return data


class OneApiProvider(Provider[NoOptions]):
    display_name = "one-api relay"
    Options = NoOptions
    key_kind = "the relay site's sk- token"
    default_hosts = ()  # base_url: the relay site
    reads_status: ClassVar[bool] = False

    def requests(self, account: AccountConfig, options: NoOptions) -> list[HttpRequest]:
        if account.base_url is None:
            raise RequestRejected("base_url is required: the relay site's address")
        base = account.base_url.rstrip("/").removesuffix("/v1")
        key = account.api_key.get_secret_value()
        wanted = [
            HttpRequest("GET", base + SUBSCRIPTION, bearer(key), secret=key),
            HttpRequest("GET", base + USAGE, bearer(key), secret=key),
        ]
        if self.reads_status:
            wanted.append(HttpRequest("GET", base + STATUS, {"Accept": "application/json"}))
        return wanted

    def currency(self, responses: Sequence[HttpResponse]) -> str:
        return "USD"

    def parse(
        self,
        account: AccountConfig,
        options: NoOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        granted = amount(
            _answer(responses[0], "subscription").get("hard_limit_usd"), "hard_limit_usd"
        )
        hundredths = amount(_answer(responses[1], "usage").get("total_usage"), "total_usage")
        code = self.currency(responses)
        if granted >= UNLIMITED:
            balances: dict[str, CurrencyBalance] = {}
        else:
            used = hundredths.scaleb(-2)
            left = granted - used
            balances = {code: CurrencyBalance(left, Decimal(0), left, limit=granted, used=used)}
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=not balances or balances[code].total > 0,
            balances=balances,
            uncapped=not balances,
        )


class NewApiProvider(OneApiProvider):
    display_name = "new-api relay"
    reads_status = True

    def currency(self, responses: Sequence[HttpResponse]) -> str:
        status = obj(load_json(responses[2].body), "status")
        if status.get("success") is not True:
            raise MalformedResponse("/api/status did not succeed")
        shown = obj(status.get("data"), "status.data").get("quota_display_type")
        if shown not in DISPLAY_CURRENCIES:
            raise MalformedResponse(
                f"the site shows quota as {str(shown)[:20]!r}, not as money (USD or CNY)"
            )
        return DISPLAY_CURRENCIES[str(shown)]
