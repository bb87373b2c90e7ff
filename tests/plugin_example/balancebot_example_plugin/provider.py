"""The Acme balance API: `GET /v2/orgs/{org_id}/credits`, the key in `X-Acme-Key`.

A provider is sans I/O: `requests` says what to ask, `parse` reads the answers, and
balancebot's engine does the HTTP (deadline, body cap, retries, no redirects). Only the
public API (`import balancebot`) is used, as any third-party plugin would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlencode

from msgspec import Meta, Struct

from balancebot import (
    AccountConfig,
    BalanceSnapshot,
    CurrencyBalance,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    Provider,
    amount,
    base_url,
    load_json,
    obj,
)

HOSTS = {"eu": "https://api.eu.acme.example", "us": "https://api.us.acme.example"}


class AcmeOptions(Struct, frozen=True, forbid_unknown_fields=True):
    """`[accounts.options]` of an Acme account; unknown keys are errors."""

    org_id: Annotated[str, Meta(pattern=r"^org-[a-z0-9]{1,32}$")]
    """Required: the organisation whose credits to watch (it becomes part of the URL, so
    the pattern keeps it one path segment)."""
    region: Literal["eu", "us"] = "eu"
    project: str | None = None
    """Only this project's share of the credits."""


class AcmeProvider(Provider[AcmeOptions]):
    display_name = "Acme"
    Options = AcmeOptions
    key_kind = "Acme API key (X-Acme-Key)"
    default_hosts = (HOSTS["eu"], HOSTS["us"])

    def requests(self, account: AccountConfig, options: AcmeOptions) -> list[HttpRequest]:
        key = account.api_key.get_secret_value()
        url = f"{base_url(account, HOSTS[options.region])}/v2/orgs/{options.org_id}/credits"
        if options.project is not None:
            url += "?" + urlencode({"project": options.project})
        headers = {"X-Acme-Key": key, "Accept": "application/json"}
        return [HttpRequest("GET", url, headers, secret=key)]

    def parse(
        self,
        account: AccountConfig,
        options: AcmeOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        data = obj(load_json(responses[0].body), "response")
        if data.get("org") != options.org_id:
            raise MalformedResponse("the answer is about another organisation")
        credits = data.get("credits")
        if not isinstance(credits, list) or not credits:
            raise MalformedResponse("credits is missing or not a non-empty list")
        balances: dict[str, CurrencyBalance] = {}
        for i, item in enumerate(credits[:10]):
            entry = obj(item, f"credits[{i}]")
            currency = entry.get("currency")
            if not isinstance(currency, str) or not re.fullmatch("[A-Z]{3}", currency):
                raise MalformedResponse(f"credits[{i}].currency is not a currency code")
            granted = amount(entry.get("granted"), f"credits[{i}].granted")
            purchased = amount(entry.get("purchased"), f"credits[{i}].purchased")
            remaining = amount(entry.get("remaining"), f"credits[{i}].remaining")
            balances[currency] = CurrencyBalance(remaining, granted, purchased)
        usable = data.get("status") == "active"
        return BalanceSnapshot(
            account=account.name,
            provider=account.provider,
            taken_at=taken_at,
            is_available=usable and any(b.total > Decimal(0) for b in balances.values()),
            balances=balances,
        )
