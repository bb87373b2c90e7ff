"""DeepSeek `GET /user/balance`, parsed strictly into a `BalanceSnapshot`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...config import AccountConfig
from ...errors import MalformedResponse
from ...models import BalanceSnapshot, Currency, CurrencyBalance, currency
from ..contract import Bill, HttpRequest, HttpResponse, NoOptions, Provider, base_url, bearer_get
from ..strict import amount, boolean, load_json

_AMOUNT_FIELDS = ("total_balance", "granted_balance", "topped_up_balance")


class DeepSeekProvider(Provider[NoOptions]):
    display_name = "DeepSeek"
    Options = NoOptions
    bills = (Bill("prepaid", "inference", "each entry's currency (CNY, USD)", "reported"),)
    default_hosts = ("https://api.deepseek.com",)

    def requests(self, account: AccountConfig, options: NoOptions) -> list[HttpRequest]:
        return bearer_get(account, f"{base_url(account, self.default_hosts[0])}/user/balance")

    def parse(
        self,
        account: AccountConfig,
        options: NoOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        return parse_balance(responses[0].body, account.name, account.provider, taken_at)


def parse_balance(body: bytes, account: str, provider: str, taken_at: datetime) -> BalanceSnapshot:
    """Strict: anything we cannot trust is `MalformedResponse`, never a zero balance."""
    data = load_json(body)  # tolerates the keep-alive blank lines before the JSON
    if not isinstance(data, dict):
        raise MalformedResponse("response is not a JSON object")
    available = boolean(data.get("is_available"), "is_available")
    infos = data.get("balance_infos")
    if not isinstance(infos, list):
        raise MalformedResponse("balance_infos is missing or not a list")
    balances: dict[Currency, CurrencyBalance] = {}
    for i, info in enumerate(infos):
        code, balance = _parse_info(info, i)
        if code in balances:
            raise MalformedResponse(f"balance_infos[{i}]: {code} listed twice")
        balances[code] = balance
    return BalanceSnapshot(
        account=account,
        provider=provider,
        taken_at=taken_at,
        is_available=available,
        balances=balances,
    )


def _parse_info(info: Any, index: int) -> tuple[Currency, CurrencyBalance]:
    where = f"balance_infos[{index}]"
    if not isinstance(info, dict):
        raise MalformedResponse(f"{where} is not an object")
    try:
        code = currency(info.get("currency"))
    except ValueError as exc:
        raise MalformedResponse(f"{where}: {exc}") from None
    # documented as strings; a float here means a gateway rewrote the answer
    amounts = [amount(info.get(name), f"{where}.{name}", numbers=False) for name in _AMOUNT_FIELDS]
    return code, CurrencyBalance(*amounts)
