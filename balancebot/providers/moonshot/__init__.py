"""Moonshot / Kimi `GET /v1/users/me/balance`: `.cn` answers in CNY, `.ai` in USD.

The body carries no currency, so the region option says it (a key works only in its own
region). Cash is what was paid and can go negative (debt); vouchers are granted credit;
`available_balance <= 0` blocks inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from msgspec import Struct

from ...config import AccountConfig
from ...models import BalanceSnapshot, CurrencyBalance
from ..contract import (
    Bill,
    HttpRequest,
    HttpResponse,
    Provider,
    base_url,
    bearer_get,
    business_error,
)
from ..strict import amount, load_json, obj

HOSTS = {"cn": ("https://api.moonshot.cn", "CNY"), "ai": ("https://api.moonshot.ai", "USD")}


class MoonshotOptions(Struct, frozen=True, forbid_unknown_fields=True):
    region: Literal["cn", "ai"] = "cn"


class MoonshotProvider(Provider[MoonshotOptions]):
    display_name = "Moonshot"
    Options = MoonshotOptions
    bills = (Bill("prepaid", "inference", "CNY on .cn, USD on .ai"),)
    default_hosts = (HOSTS["cn"][0], HOSTS["ai"][0])

    def requests(self, account: AccountConfig, options: MoonshotOptions) -> list[HttpRequest]:
        return bearer_get(
            account, f"{base_url(account, HOSTS[options.region][0])}/v1/users/me/balance"
        )

    def parse(
        self,
        account: AccountConfig,
        options: MoonshotOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = obj(load_json(responses[0].body), "response")
        if data.get("status") is not True or data.get("code") != 0:
            error = data.get("error")
            said = error.get("message") if isinstance(error, dict) else data.get("scode")
            raise business_error("", f"code {data.get('code')!r}: {str(said)[:200]}")
        info = obj(data.get("data"), "data")
        available = amount(info.get("available_balance"), "data.available_balance", negative=True)
        voucher = amount(info.get("voucher_balance"), "data.voucher_balance")
        cash = amount(info.get("cash_balance"), "data.cash_balance", negative=True)
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=available > 0,
            balances={HOSTS[options.region][1]: CurrencyBalance(available, voucher, cash)},
        )
