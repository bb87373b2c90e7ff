"""SiliconFlow `GET /v1/user/info`: `.cn` in CNY, `.com` in USD (the body names no currency).

Success is only `code == 20000`: business errors come with HTTP 200. `balance` is granted
credit, `chargeBalance` paid, `totalBalance` both, all strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from msgspec import Struct

from ...config import AccountConfig
from ...errors import MalformedResponse
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

HOSTS = {
    "cn": ("https://api.siliconflow.cn", "CNY"),
    "com": ("https://api.siliconflow.com", "USD"),
}
SUCCESS = 20000


class SiliconFlowOptions(Struct, frozen=True, forbid_unknown_fields=True):
    region: Literal["cn", "com"] = "cn"


class SiliconFlowProvider(Provider[SiliconFlowOptions]):
    display_name = "SiliconFlow"
    Options = SiliconFlowOptions
    bills = (Bill("prepaid", "inference", "CNY on .cn, USD on .com"),)
    default_hosts = (HOSTS["cn"][0], HOSTS["com"][0])

    def requests(self, account: AccountConfig, options: SiliconFlowOptions) -> list[HttpRequest]:
        return bearer_get(account, f"{base_url(account, HOSTS[options.region][0])}/v1/user/info")

    def parse(
        self,
        account: AccountConfig,
        options: SiliconFlowOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = obj(load_json(responses[0].body), "response")
        if not isinstance(data.get("code"), int):
            raise MalformedResponse("code is missing or not an integer")
        if data.get("code") != SUCCESS:
            message = str(data.get("message"))[:200]
            raise business_error("", f"code {str(data.get('code'))[:20]}: {message}")
        info = obj(data.get("data"), "data")
        granted = amount(info.get("balance"), "data.balance")
        paid = amount(info.get("chargeBalance"), "data.chargeBalance")
        total = amount(info.get("totalBalance"), "data.totalBalance")
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=total > 0,
            balances={HOSTS[options.region][1]: CurrencyBalance(total, granted, paid)},
        )
