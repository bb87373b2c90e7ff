"""Tencent Cloud billing `DescribeAccountBalance` (Version 2018-07-09): the cloud account's
available balance, which pays for Hunyuan and every other Tencent Cloud product.

A POST of `{}` to `billing.tencentcloudapi.com`, signed with TC3-HMAC-SHA256 (`sign.py`)
at the time of sending (`Provider.sign`). `api_key` is the SecretKey and
`options.secret_id` the SecretId; both are masked wherever balancebot writes.

Tencent answers HTTP 200 to everything: an error is `Response.Error.Code`, read in
`error_for` (a wrong key, a clock more than five minutes off, a CAM policy missing,
`RequestLimitExceeded`). `Response.Balance` is an integer number of **fen** (1/100 CNY);
anything else there (a string, a fraction of a fen, a float) is a malformed answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from msgspec import Struct

from ...config import AccountConfig, Secret
from ...errors import MalformedResponse
from ...models import BalanceSnapshot
from ..cloud import CloudProvider, ErrorCodes, present
from ..contract import Bill, HttpRequest, HttpResponse, base_url, one_balance
from ..strict import amount, load_json, obj
from .sign import sign

ACTION, VERSION, SERVICE = "DescribeAccountBalance", "2018-07-09", "billing"
SIGNED = ("Content-Type", "Host", "X-TC-Action")
CODES = ErrorCodes(
    cloud="Tencent Cloud",
    key_id="options.secret_id",
    auth=frozenset(
        {
            "AuthFailure.SignatureFailure",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.InvalidSecretId",
            "AuthFailure.InvalidAuthorization",
            "AuthFailure.MFAFailure",
            "AuthFailure.TokenFailure",
        }
    ),
    clock=frozenset({"AuthFailure.SignatureExpire"}),
    denied=frozenset({"AuthFailure.UnauthorizedOperation", "UnauthorizedOperation"}),
    permission="the key's CAM user needs billing:DescribeAccountBalance (QCloudFinanceFullAccess)",
    throttle=frozenset({"RequestLimitExceeded", "RequestLimitExceeded.UinLimitExceeded"}),
    busy=frozenset({"ResourceUnavailable", "ServiceUnavailable"}),
)


class TencentCloudOptions(Struct, frozen=True, forbid_unknown_fields=True):
    secret_id: Secret
    """The SecretId of the API key pair (console.cloud.tencent.com/cam/capi)."""

    def __post_init__(self) -> None:
        present(self.secret_id, "secret_id")


class TencentCloudProvider(CloudProvider[TencentCloudOptions]):
    display_name = "Tencent Cloud"
    codes = CODES
    error_at = "Response.Error.Code"
    stamp = ("X-TC-Timestamp", "epoch")
    Options = TencentCloudOptions
    bills = (Bill("prepaid", "cloud", "CNY (read in fen)"),)
    key_kind = "cloud API SecretKey (SecretId in options.secret_id)"
    default_hosts = ("https://billing.tencentcloudapi.com",)

    def requests(self, account: AccountConfig, options: TencentCloudOptions) -> list[HttpRequest]:
        url = base_url(account, self.default_hosts[0]) + "/"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Host": urlsplit(url).netloc,
            "X-TC-Action": ACTION,
            "X-TC-Version": VERSION,
        }
        key = account.api_key.get_secret_value()
        return [HttpRequest("POST", url, headers, secret=key, body=b"{}")]

    def sign(
        self,
        request: HttpRequest,
        account: AccountConfig,
        options: TencentCloudOptions,
        now: datetime,
    ) -> HttpRequest:
        timestamp = int(now.timestamp())
        signed = sign(
            secret_id=options.secret_id.get_secret_value(),
            secret_key=request.secret,
            service=SERVICE,
            timestamp=timestamp,
            method=request.method,
            query="",
            headers={name: request.headers[name] for name in SIGNED},
            payload=request.body,
        )
        headers = {
            **request.headers,
            "X-TC-Timestamp": str(timestamp),
            "Authorization": signed.authorization,
        }
        return replace(request, headers=headers)

    def error_in(self, answer: Any, status: int) -> Mapping[str, Any] | None:
        response = answer.get("Response") if isinstance(answer, dict) else None
        error = response.get("Error") if isinstance(response, dict) else None
        return error if isinstance(error, dict) else None

    def parse(
        self,
        account: AccountConfig,
        options: TencentCloudOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        answer = obj(obj(load_json(responses[0].body), "answer").get("Response"), "Response")
        fen = answer.get("Balance")
        if not isinstance(fen, int) or isinstance(fen, bool):
            raise MalformedResponse("Response.Balance is missing or not a whole number of fen")
        yuan = amount(fen, "Response.Balance", negative=True).scaleb(-2)
        return one_balance(account, taken_at, "CNY", yuan)
