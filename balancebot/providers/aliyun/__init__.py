"""Alibaba Cloud BSS OpenAPI `QueryAccountBalance` (Version 2017-12-14): the cloud
account's available amount, which pays for Qwen (Bailian/DashScope) and every other
Alibaba Cloud product.

A `POST /` with no body to `business.aliyuncs.com`, signed with ACS3-HMAC-SHA256
(`sign.py`) at the time of sending (`Provider.sign`), a fresh nonce each time. `api_key`
is the AccessKey secret and `options.access_key_id` its id; both are masked wherever
balancebot writes.

Errors come as `{"Code", "Message"}` with a 4xx/5xx status (a wrong key, a clock more
than 15 minutes off, a RAM permission missing, throttling), or as HTTP 200 with
`"Success": false`. Amounts are strings, possibly with thousands separators
(`"1,234.56"`): only well-grouped ones are read; the currency is `Data.Currency`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from ...config import AccountConfig
from ...errors import MalformedResponse
from ...models import BalanceSnapshot
from ..cloud import AccessKeyOptions, CloudProvider, ErrorCodes
from ..contract import Bill, HttpRequest, HttpResponse, base_url, one_balance
from ..signing import EMPTY_SHA256
from ..strict import amount, boolean, load_json, obj, text
from .sign import sign

ACTION, VERSION = "QueryAccountBalance", "2017-12-14"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_GROUPED = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
CODES = ErrorCodes(
    cloud="Alibaba Cloud",
    key_id="options.access_key_id",
    auth=frozenset(
        {
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "InvalidAccessKeyId.NotFound",
            "InvalidAccessKeyId.Inactive",
            "InvalidAccessKeyId",
        }
    ),
    clock=frozenset({"InvalidTimeStamp.Expired", "InvalidTimeStamp.Format"}),
    denied=frozenset({"Forbidden.RAM", "NoPermission", "NotAuthorized", "Forbidden"}),
    permission="the key's RAM user needs bss:DescribeAcccount (AliyunBSSReadOnlyAccess)",
    throttle=frozenset({"Throttling", "Throttling.User", "Throttling.Api", "Throttling.Api.Quota"}),
    busy=frozenset({"ServiceUnavailable"}),
)


class AliyunProvider(CloudProvider[AccessKeyOptions]):
    display_name = "Alibaba Cloud"
    codes = CODES
    error_at = "Code"
    stamp = ("x-acs-date", DATE_FORMAT)
    Options = AccessKeyOptions
    bills = (Bill("prepaid", "cloud", "the answer's currency (Data.Currency: CNY, USD or JPY)"),)
    key_kind = "cloud AccessKey secret (its id in options.access_key_id)"
    default_hosts = (
        "https://business.aliyuncs.com",
        "https://business.ap-southeast-1.aliyuncs.com",
    )

    def requests(self, account: AccountConfig, options: AccessKeyOptions) -> list[HttpRequest]:
        url = base_url(account, self.default_hosts[0]) + "/"
        headers = {
            "host": urlsplit(url).netloc,
            "x-acs-action": ACTION,
            "x-acs-version": VERSION,
            "x-acs-content-sha256": EMPTY_SHA256,
        }
        return [HttpRequest("POST", url, headers, secret=account.api_key.get_secret_value())]

    def sign(
        self, request: HttpRequest, account: AccountConfig, options: AccessKeyOptions, now: datetime
    ) -> HttpRequest:
        headers = {
            **request.headers,
            "x-acs-date": now.astimezone(UTC).strftime(DATE_FORMAT),
            "x-acs-signature-nonce": uuid.uuid4().hex,
        }
        signed = sign(
            access_key_id=options.access_key_id.get_secret_value(),
            access_key_secret=request.secret,
            method=request.method,
            path="/",
            query="",
            headers=headers,
            payload_hash=EMPTY_SHA256,
        )
        return replace(request, headers={**headers, "Authorization": signed.authorization})

    def error_in(self, answer: Any, status: int) -> Mapping[str, Any] | None:
        if not isinstance(answer, dict) or "Code" not in answer:
            return None
        return answer if not 200 <= status < 300 or answer.get("Success") is False else None

    def parse(
        self,
        account: AccountConfig,
        options: AccessKeyOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        answer = obj(load_json(responses[0].body), "answer")
        if not boolean(answer.get("Success"), "Success"):
            raise MalformedResponse("Success is false with no error code")
        data = obj(answer.get("Data"), "Data")
        currency = text(data.get("Currency"), "Data.Currency", limit=20)
        if not _CURRENCY.fullmatch(currency):
            raise MalformedResponse(f"Data.Currency is not a currency code: {currency!r}")
        available = _amount(data.get("AvailableAmount"), "Data.AvailableAmount")
        return one_balance(account, taken_at, currency, available)


def _amount(value: object, where: str) -> Decimal:
    """A decimal string; commas only as thousands separators ("1,234.56")."""
    if isinstance(value, str) and _GROUPED.fullmatch(value):
        value = value.replace(",", "")
    return amount(value, where, negative=True, numbers=False)
