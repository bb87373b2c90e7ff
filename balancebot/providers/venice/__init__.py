"""Venice `GET /api/v1/billing/balance` (an admin key): the account's prepaid USD.

`canConsume` is Venice's own word on whether calls go through (DIEM or USD left), so it
is `is_available`; `balances.usd` is the watched balance. DIEM (staked, per-epoch
allowance) has no ISO code and is not shown. An inference key is refused with 401: the
error says an admin key is needed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ...config import AccountConfig
from ...errors import CheckError
from ...models import BalanceSnapshot, CurrencyBalance
from ..contract import (
    HttpRequest,
    HttpResponse,
    NoOptions,
    Provider,
    base_url,
    bearer_get,
    key_needed,
    status_error,
)
from ..strict import amount, boolean, load_json, obj

PATH = "/api/v1/billing/balance"
ADMIN_KEY = "the balance needs a Venice admin key (venice.ai/settings/api, type Admin)"


class VeniceProvider(Provider[NoOptions]):
    display_name = "Venice"
    Options = NoOptions
    key_kind = "admin API key (an inference key is refused)"
    default_hosts = ("https://api.venice.ai",)

    def requests(self, account: AccountConfig, options: NoOptions) -> list[HttpRequest]:
        return bearer_get(account, base_url(account, self.default_hosts[0]) + PATH)

    def error_for(
        self, request: HttpRequest, response: HttpResponse, now: datetime
    ) -> CheckError | None:
        if response.status in (401, 403):
            return key_needed(response, request.secret, ADMIN_KEY)
        return status_error(response, now, secret=request.secret)

    def parse(
        self,
        account: AccountConfig,
        options: NoOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = obj(load_json(responses[0].body), "response")
        can_consume = boolean(data.get("canConsume"), "canConsume")
        usd = amount(obj(data.get("balances"), "balances").get("usd"), "balances.usd")
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=can_consume,
            balances={"USD": CurrencyBalance(usd, Decimal(0), usd)},
        )
