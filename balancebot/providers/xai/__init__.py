"""xAI `GET /v1/billing/teams/{team_id}/prepaid/balance` (a management key): the team's
prepaid credit.

The answer is a ledger seen from xAI's side, in USD **cents** as a string: a 10.00 USD
top-up is `{"total": {"val": "-1000"}}`, so what is left is the negated value / 100
(docs/providers/xai.md says where that comes from). Only that shape is read: a number
instead of a string, fractional cents, or a positive total (a team in debt? not
documented) is a malformed answer, never a guess."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from urllib.parse import quote

from msgspec import Meta, Struct

from ...config import AccountConfig
from ...errors import CheckError, MalformedResponse, RequestRejected
from ...models import BalanceSnapshot
from ..contract import (
    Bill,
    HttpRequest,
    HttpResponse,
    Provider,
    base_url,
    bearer_get,
    error_message,
    one_balance,
)
from ..strict import load_json, obj, text

_CENTS = re.compile(r"-?[0-9]{1,17}")
MANAGEMENT_KEY = (
    "the balance needs an xAI management key with billing read access "
    "(console.x.ai → Settings → Management Keys), not an inference key"
)


class XaiOptions(Struct, frozen=True, forbid_unknown_fields=True):
    team_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    """The team whose prepaid credit is read (console.x.ai shows it in the team's URL)."""


class XaiProvider(Provider[XaiOptions]):
    display_name = "xAI"
    Options = XaiOptions
    bills = (Bill("prepaid", "management", "USD (read in cents)"),)
    key_kind = "management key (an inference key is refused)"
    needs_key = MANAGEMENT_KEY
    default_hosts = ("https://management-api.x.ai",)

    def requests(self, account: AccountConfig, options: XaiOptions) -> list[HttpRequest]:
        team = quote(options.team_id, safe="")
        url = f"{base_url(account, self.default_hosts[0])}/v1/billing/teams/{team}/prepaid/balance"
        return bearer_get(account, url)

    def error_for(
        self, request: HttpRequest, response: HttpResponse, now: datetime
    ) -> CheckError | None:
        if response.status == 404:
            said = error_message(response.body, request.secret)
            return RequestRejected(
                f"HTTP 404{': ' + said if said else ''}; no such team: check options.team_id "
                "(the key must belong to that team)"
            )
        return super().error_for(request, response, now)

    def parse(
        self,
        account: AccountConfig,
        options: XaiOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        total = obj(obj(load_json(responses[0].body), "response").get("total"), "total")
        cents = text(total.get("val"), "total.val", limit=40)
        if not _CENTS.fullmatch(cents):
            raise MalformedResponse(f"total.val is not a whole number of cents: {cents[:20]!r}")
        ledger = Decimal(cents)
        if ledger > 0:
            raise MalformedResponse(
                f"total.val is {cents!r}: a prepaid ledger above zero is not documented"
            )
        left = (-ledger).scaleb(-2)
        return one_balance(account, taken_at, "USD", left)
