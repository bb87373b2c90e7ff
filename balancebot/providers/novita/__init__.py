"""Novita `GET /openapi/v1/billing/balance/detail`: strings in 1/10,000 USD.

`availableBalance` = `cashBalance` (paid, may be negative) + `creditLimit` (credit
Novita extends), shown as topped-up and granted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ...config import AccountConfig
from ...models import BalanceSnapshot, CurrencyBalance
from ..contract import Bill, HttpRequest, HttpResponse, NoOptions, Provider, base_url, bearer_get
from ..strict import amount, load_json, obj

UNITS_PER_USD = 4  # powers of ten: amounts are in 1/10,000 USD


class NovitaProvider(Provider[NoOptions]):
    display_name = "Novita"
    Options = NoOptions
    bills = (Bill("prepaid", "inference", "USD (read in 1/10,000 USD)"),)
    default_hosts = ("https://api.novita.ai",)

    def requests(self, account: AccountConfig, options: NoOptions) -> list[HttpRequest]:
        return bearer_get(
            account, f"{base_url(account, self.default_hosts[0])}/openapi/v1/billing/balance/detail"
        )

    def parse(
        self,
        account: AccountConfig,
        options: NoOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = obj(load_json(responses[0].body), "response")

        def usd(name: str, negative: bool = False) -> Decimal:
            return amount(data.get(name), name, negative=negative).scaleb(-UNITS_PER_USD)

        total = usd("availableBalance", negative=True)
        balance = CurrencyBalance(total, usd("creditLimit"), usd("cashBalance", negative=True))
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=total > 0,
            balances={"USD": balance},
        )
