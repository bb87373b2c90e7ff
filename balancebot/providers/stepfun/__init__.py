"""StepFun `GET /v1/accounts`: `.com` in CNY, `.ai` in USD (not confirmed by StepFun).

`balance` is the total, cash and vouchers beside it, JSON numbers. A postpaid account may
go below zero and still work, so only a prepaid one at zero is "not available"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from msgspec import Struct

from ...config import AccountConfig
from ...errors import MalformedResponse
from ...models import BalanceSnapshot, CurrencyBalance
from ..contract import Bill, HttpRequest, HttpResponse, Provider, base_url, bearer_get
from ..strict import amount, load_json, obj

HOSTS = {"com": ("https://api.stepfun.com", "CNY"), "ai": ("https://api.stepfun.ai", "USD")}


class StepFunOptions(Struct, frozen=True, forbid_unknown_fields=True):
    region: Literal["com", "ai"] = "com"


class StepFunProvider(Provider[StepFunOptions]):
    display_name = "StepFun"
    Options = StepFunOptions
    bills = (Bill("prepaid", "inference", "CNY on .com, USD on .ai"),)
    default_hosts = (HOSTS["com"][0], HOSTS["ai"][0])

    def requests(self, account: AccountConfig, options: StepFunOptions) -> list[HttpRequest]:
        return bearer_get(account, f"{base_url(account, HOSTS[options.region][0])}/v1/accounts")

    def parse(
        self,
        account: AccountConfig,
        options: StepFunOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = obj(load_json(responses[0].body), "response")
        kind = data.get("type")
        if data.get("object") != "account" or kind not in ("prepaid", "postpaid"):
            raise MalformedResponse("not an account object (object/type missing or unknown)")
        total = amount(data.get("balance"), "balance", negative=True)
        cash = amount(data.get("total_cash_balance"), "total_cash_balance", negative=True)
        voucher = amount(data.get("total_voucher_balance"), "total_voucher_balance")
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=kind == "postpaid" or total > 0,
            balances={HOSTS[options.region][1]: CurrencyBalance(total, voucher, cash)},
        )
