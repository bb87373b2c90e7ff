"""new-api's account mode: `GET /api/user/self` with the user's access token and
`New-Api-User: <id>` gives the account's whole quota (`data.quota` left, `data.used_quota`
spent), in raw quota units; the site's public `/api/status` says how many make one USD
(`quota_per_unit`, 500,000 by default) and whether it shows money in USD or CNY (at its
`usd_exchange_rate`), as the site's own dashboard does."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from ...errors import MalformedResponse
from ...models import CurrencyBalance
from ..contract import HttpResponse, business_error
from ..strict import MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS, amount, load_json, obj

SELF = "/api/user/self"
STATUS = "/api/status"
DISPLAY_CURRENCIES = {"USD": "USD", "CNY": "CNY"}
ACCESS_TOKEN = (
    "account mode needs the user's access token (the site's personal settings → "
    "generate access token) and that user's id in options.user_id"
)
_QUANTUM = Decimal(1).scaleb(-MAX_FRACTION_DIGITS)


def status_data(response: HttpResponse) -> Mapping[str, Any]:
    status = obj(load_json(response.body), "status")
    if status.get("success") is not True:
        raise MalformedResponse("/api/status did not succeed")
    return obj(status.get("data"), "status.data")


def display_currency(status: Mapping[str, Any]) -> str:
    shown = status.get("quota_display_type")
    if shown not in DISPLAY_CURRENCIES:
        raise MalformedResponse(
            f"the site shows quota as {str(shown)[:20]!r}, not as money (USD or CNY)"
        )
    return DISPLAY_CURRENCIES[str(shown)]


def account_balance(
    response: HttpResponse, status: Mapping[str, Any]
) -> tuple[str, CurrencyBalance]:
    """The account's quota left (negative when overdrawn) and spent, in the display unit.
    Errors come as `{"success": false, "message": ...}`, often with HTTP 200."""
    answer = obj(load_json(response.body), "response")
    if answer.get("success") is not True:
        raise business_error("", f"/api/user/self: {str(answer.get('message'))[:200]}")
    user = obj(answer.get("data"), "data")
    quota = amount(user.get("quota"), "data.quota", negative=True)
    used = amount(user.get("used_quota"), "data.used_quota")
    code = display_currency(status)
    per_unit = amount(status.get("quota_per_unit"), "status.data.quota_per_unit")
    rate = Decimal(1)
    if code == "CNY":
        rate = amount(status.get("usd_exchange_rate"), "status.data.usd_exchange_rate")
    if per_unit == 0 or rate == 0:
        raise MalformedResponse("the site's quota_per_unit or usd_exchange_rate is zero")

    def money(raw: Decimal, where: str) -> Decimal:
        """Bounded like an amount read: a site's tiny quota_per_unit (or huge rate) must
        not turn a quota into an OK '(out of range)' balance or a decimal error."""
        with localcontext(prec=60):  # 15 + 8 digits / 1e-8 x 1e15 fits, exactly
            value = raw / per_unit * rate
        if value.adjusted() >= MAX_INTEGER_DIGITS:
            raise MalformedResponse(f"{where} in {code} is out of range (the site's unit)")
        return value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)

    left = money(quota, "data.quota")
    return code, CurrencyBalance(left, Decimal(0), left, used=money(used, "data.used_quota"))
