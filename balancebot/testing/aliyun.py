"""A loopback Alibaba Cloud BSS `QueryAccountBalance`: ACS3-HMAC-SHA256 checked as "V3版本
请求体&签名机制" says (every `x-acs-*` header and `host` signed, the body's hash in
`x-acs-content-sha256`, `x-acs-date` within 15 minutes of the server's, a nonce used
once), errors as `{"RequestId", "HostId", "Code", "Message", "Recommend"}` with their
HTTP status, amounts as strings."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..providers.aliyun.sign import ALGORITHM, sign
from ..providers.signing import sha256_hex
from .fakeapi import Reply
from .signedcloud import SignedCloudFake

PATH = "/"
WINDOW = 15 * 60  # seconds x-acs-date may be off the server's
_AUTH = re.compile(
    rf"{ALGORITHM} Credential=([^,]+),SignedHeaders=([a-z0-9;-]+),Signature=([0-9a-f]{{64}})"
)


def error(status: int, code: str, message: str) -> Reply:
    body = {
        "RequestId": str(uuid.uuid4()).upper(),
        "HostId": "business.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": "https://api.aliyun.com/troubleshoot?q=" + code,
    }
    return Reply(status, body)


def _balance(account: dict[str, Any]) -> dict[str, Any]:
    available = account.get("available", "10000.00")
    return {
        "Code": "200",
        "Message": "success",
        "RequestId": str(uuid.uuid4()).upper(),
        "Success": True,
        "Data": {
            "AvailableAmount": available,
            "CreditAmount": "0.00",
            "MybankCreditAmount": "0.00",
            "Currency": account.get("currency", "CNY"),
            "AvailableCashAmount": available,
            "QuotaLimit": "0.00",
        },
    }


class AliyunFake(SignedCloudFake):
    """Accounts by AccessKey ID: `add_account(key_id, secret=..., available="12.34")`."""

    authorization = _AUTH
    answer = staticmethod(_balance)

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now)
        self.nonces: set[str] = set()

    def unsigned(self) -> Reply:
        return error(400, "IncompleteSignature", "The request signature does not conform.")

    def unknown(self, key_id: str) -> Reply:
        return error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")

    def refusal(
        self, request: web.Request, body: bytes, found: re.Match[str], account: dict[str, Any]
    ) -> Reply | None:
        try:
            date = datetime.strptime(request.headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return error(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs((self.server_now() - date.replace(tzinfo=UTC)).total_seconds()) > WINDOW:
            return error(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )
        names = found.group(2).split(";")
        sent = {k.lower() for k in request.headers if k.lower().startswith("x-acs-")}
        if not ({"host"} | sent) <= set(names):
            return error(400, "IncompleteSignature", "Every x-acs-* header must be signed.")
        if request.headers.get("x-acs-content-sha256") != sha256_hex(body):
            return error(400, "ContentSHA256NotMatched", "x-acs-content-sha256 is not the body's.")
        expected = sign(
            access_key_id=found.group(1),
            access_key_secret=account["secret"],
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers={name: request.headers.get(name, "") for name in names},
            payload_hash=sha256_hex(body),
        )
        if expected.signature != found.group(3):
            return error(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to "
                "sign is:" + expected.string_to_sign,
            )
        nonce = request.headers.get("x-acs-signature-nonce", "")
        if not nonce or nonce in self.nonces:
            return error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(nonce)
        if request.headers.get("x-acs-action") != "QueryAccountBalance":
            return error(400, "InvalidAction.NotFound", "Specified api is not found.")
        version = request.headers.get("x-acs-version")
        if version is None:
            return error(400, "MissingVersion", "Version is mandatory for this action.")
        if version != "2017-12-14":
            return error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        return None
