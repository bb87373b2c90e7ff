"""OpenRouter: a key's spending limit (`/api/v1/key`, any key) or the account's credits
(`/api/v1/credits`, a management key), chosen by the `mode` option.

A key with a `null` limit has no cap: the snapshot says so (`uncapped`) and holds no
balance rather than a made-up zero. An inference key asking for credits gets 403, which
becomes an auth error naming the key that is needed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from msgspec import Struct

from ...config import AccountConfig
from ...errors import CheckError
from ...models import BalanceSnapshot, CurrencyBalance
from ..contract import (
    Bill,
    HttpRequest,
    HttpResponse,
    Provider,
    base_url,
    bearer,
    key_needed,
    status_error,
)
from ..strict import amount, load_json, obj

PATHS = {"key": "/api/v1/key", "credits": "/api/v1/credits"}


class OpenRouterOptions(Struct, frozen=True, forbid_unknown_fields=True):
    mode: Literal["key", "credits"] = "key"


class OpenRouterProvider(Provider[OpenRouterOptions]):
    display_name = "OpenRouter"
    Options = OpenRouterOptions
    bills = (
        Bill("spending limit", "inference", "USD", when="mode = key"),
        Bill("credits", "management", "USD", when="mode = credits"),
    )
    key_kind = "API key (mode key) or management key (mode credits)"
    default_hosts = ("https://openrouter.ai",)

    def requests(self, account: AccountConfig, options: OpenRouterOptions) -> list[HttpRequest]:
        key = account.api_key.get_secret_value()
        url = base_url(account, self.default_hosts[0]) + PATHS[options.mode]
        return [HttpRequest("GET", url, bearer(key), secret=key)]

    def error_for(
        self, request: HttpRequest, response: HttpResponse, now: datetime
    ) -> CheckError | None:
        if response.status == 403 and request.url.endswith(PATHS["credits"]):
            return key_needed(
                response,
                request.secret,
                "the credits need a management key "
                '(openrouter.ai/settings/provisioning-keys), or use mode = "key"',
            )
        return status_error(response, now, secret=request.secret)

    def parse(
        self,
        account: AccountConfig,
        options: OpenRouterOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = obj(obj(load_json(responses[0].body), "response").get("data"), "data")
        uncapped = False
        if options.mode == "credits":
            used = amount(data.get("total_usage"), "data.total_usage")
            left = amount(data.get("total_credits"), "data.total_credits") - used
            balances = {"USD": CurrencyBalance(left, Decimal(0), left, used=used)}
        elif data.get("limit", ...) is None:
            uncapped, balances = True, {}
        else:
            limit = amount(data.get("limit"), "data.limit")
            left = amount(data.get("limit_remaining"), "data.limit_remaining", negative=True)
            used = amount(data.get("usage"), "data.usage")
            balances = {"USD": CurrencyBalance(left, Decimal(0), left, limit=limit, used=used)}
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=uncapped or balances["USD"].total > 0,
            balances=balances,
            uncapped=uncapped,
        )
