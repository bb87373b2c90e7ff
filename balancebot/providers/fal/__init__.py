"""fal `GET /v1/account/billing?expand=credits` (an admin key): the account's credits.

The key goes as `Authorization: Key ...`, not Bearer. `credits.current_balance` (a number
or a numeric string) in `credits.currency`; an answer without a usable `credits` block,
or with no currency code, is malformed, never zero. An API-scope (inference) key gets
403: the error says an admin key is needed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ...config import AccountConfig
from ...errors import MalformedResponse
from ...models import BalanceSnapshot, currency
from ..contract import Bill, HttpRequest, HttpResponse, NoOptions, Provider, base_url, one_balance
from ..strict import amount, load_json, obj

PATH = "/v1/account/billing?expand=credits"
ADMIN_KEY = "the balance needs a fal admin key (fal.ai/dashboard/keys, scope ADMIN)"


class FalProvider(Provider[NoOptions]):
    display_name = "fal"
    Options = NoOptions
    bills = (Bill("credits", "admin", "the answer's currency (USD)"),)
    key_kind = "admin API key (an API-scope key is refused)"
    needs_key = ADMIN_KEY
    default_hosts = ("https://api.fal.ai",)

    def requests(self, account: AccountConfig, options: NoOptions) -> list[HttpRequest]:
        key = account.api_key.get_secret_value()
        headers = {"Authorization": f"Key {key}", "Accept": "application/json"}
        return [HttpRequest("GET", base_url(account, self.default_hosts[0]) + PATH, headers, key)]

    def parse(
        self,
        account: AccountConfig,
        options: NoOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        credits = obj(obj(load_json(responses[0].body), "response").get("credits"), "credits")
        try:
            code = currency(credits.get("currency"))
        except ValueError as exc:
            raise MalformedResponse(f"credits.currency: {exc}") from None
        left = amount(credits.get("current_balance"), "credits.current_balance", negative=True)
        return one_balance(account, taken_at, code, left)
