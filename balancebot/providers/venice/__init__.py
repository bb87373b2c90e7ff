"""Venice `GET /api/v1/billing/balance` (an admin key): the account's prepaid USD.

`canConsume` is Venice's own word on whether calls go through (DIEM or USD left), so it
is `is_available`; `balances.usd` is the watched balance. DIEM (staked, per-epoch
allowance) has no ISO code and is not shown. An inference key is refused with 401: the
error says an admin key is needed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ...config import AccountConfig
from ...models import BalanceSnapshot
from ..contract import (
    Bill,
    HttpRequest,
    HttpResponse,
    NoOptions,
    Provider,
    base_url,
    bearer_get,
    one_balance,
)
from ..strict import amount, boolean, load_json, obj

PATH = "/api/v1/billing/balance"
ADMIN_KEY = "the balance needs a Venice admin key (venice.ai/settings/api, type Admin)"


class VeniceProvider(Provider[NoOptions]):
    display_name = "Venice"
    Options = NoOptions
    bills = (Bill("prepaid", "admin", "USD", "reported"),)
    key_kind = "admin API key (an inference key is refused)"
    needs_key = ADMIN_KEY
    default_hosts = ("https://api.venice.ai",)

    def requests(self, account: AccountConfig, options: NoOptions) -> list[HttpRequest]:
        return bearer_get(account, base_url(account, self.default_hosts[0]) + PATH)

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
        return one_balance(account, taken_at, "USD", usd, can_consume)
