"""Volcengine billing `QueryBalanceAcct` (Version 2022-01-01): the cloud account's
available balance, which pays for Doubao (Volcengine Ark) and every other Volcengine
product.

A `GET /?Action=QueryBalanceAcct&Version=2022-01-01` to `billing.volcengineapi.com`,
region `cn-beijing`, service `billing`, signed with HMAC-SHA256 (`sign.py`) at the time of
sending (`Provider.sign`). `api_key` is the Secret Access Key and
`options.access_key_id` the Access Key ID; both are masked wherever balancebot writes.

Errors come as `ResponseMetadata.Error` (`{"CodeN", "Code", "Message"}`) with a 4xx/5xx
status (a wrong key, an expired signature, a missing policy, flow limits). Amounts are
decimal strings; `Result.AvailableBalance` is the balance, in CNY."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ...config import AccountConfig
from ...models import BalanceSnapshot
from ..cloud import AccessKeyOptions, CloudProvider, ErrorCodes
from ..contract import Bill, HttpRequest, HttpResponse, base_url, one_balance
from ..signing import canonical_query
from ..strict import amount, load_json, obj
from .sign import sign

QUERY = {"Action": "QueryBalanceAcct", "Version": "2022-01-01"}
REGION, SERVICE = "cn-beijing", "billing"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CODES = ErrorCodes(
    cloud="Volcengine",
    key_id="options.access_key_id",
    auth=frozenset(
        {
            "SignatureDoesNotMatch",
            "InvalidAccessKey",
            "MissingSignature",
            "MissingAuthenticationToken",
            "InvalidAuthorization",
            "InvalidCredential",
        }
    ),
    clock=frozenset({"InvalidTimestamp"}),
    denied=frozenset({"AccessDenied", "LackPolicy"}),
    permission="the key's IAM user needs a policy allowing billing:QueryBalanceAcct",
    throttle=frozenset({"FlowLimitExceeded", "FlowLimitExceeded.QPSOverLimit"}),
    busy=frozenset({"ServiceUnavailableTemp", "InternalServiceError", "InternalServiceTimeout"}),
)


class VolcengineProvider(CloudProvider[AccessKeyOptions]):
    display_name = "Volcengine"
    codes = CODES
    error_at = "ResponseMetadata.Error.Code"
    stamp = ("X-Date", DATE_FORMAT)
    Options = AccessKeyOptions
    bills = (Bill("prepaid", "cloud", "CNY"),)
    key_kind = "cloud Secret Access Key (its id in options.access_key_id)"
    default_hosts = ("https://billing.volcengineapi.com",)

    def requests(self, account: AccountConfig, options: AccessKeyOptions) -> list[HttpRequest]:
        root = base_url(account, self.default_hosts[0])
        url = f"{root}/?{canonical_query(QUERY)}"
        headers = {"Host": urlsplit(url).netloc}
        return [HttpRequest("GET", url, headers, secret=account.api_key.get_secret_value())]

    def sign(
        self,
        request: HttpRequest,
        account: AccountConfig,
        options: AccessKeyOptions,
        now: datetime,
    ) -> HttpRequest:
        headers = {**request.headers, "X-Date": now.astimezone(UTC).strftime(DATE_FORMAT)}
        signed = sign(
            access_key_id=options.access_key_id.get_secret_value(),
            secret_access_key=request.secret,
            region=REGION,
            service=SERVICE,
            x_date=headers["X-Date"],
            method=request.method,
            query=canonical_query(QUERY),
            headers=headers,
            payload=request.body,
        )
        return replace(request, headers={**headers, "Authorization": signed.authorization})

    def error_in(self, answer: Any, status: int) -> Mapping[str, Any] | None:
        metadata = answer.get("ResponseMetadata") if isinstance(answer, dict) else None
        error = metadata.get("Error") if isinstance(metadata, dict) else None
        return error if isinstance(error, dict) else None

    def parse(
        self,
        account: AccountConfig,
        options: AccessKeyOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        result = obj(obj(load_json(responses[0].body), "answer").get("Result"), "Result")
        available = amount(
            result.get("AvailableBalance"), "Result.AvailableBalance", negative=True, numbers=False
        )
        return one_balance(account, taken_at, "CNY", available)
