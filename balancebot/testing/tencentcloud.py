"""A loopback Tencent Cloud billing `DescribeAccountBalance`: TC3-HMAC-SHA256 checked as
"签名方法 v3" says (SignedHeaders must hold content-type and host; the timestamp within
five minutes of the server's), every error an HTTP 200 `{"Response": {"Error": ...}}`,
the balance in integer fen."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from ..providers.tencentcloud.sign import ALGORITHM, sign
from .fakeapi import Reply
from .signedcloud import SignedCloudFake

PATH = "/"
WINDOW = 300  # seconds a request's timestamp may be off the server's
_AUTH = re.compile(
    rf"{ALGORITHM} Credential=([^/]+)/(\d{{4}}-\d{{2}}-\d{{2}})/([a-z]+)/tc3_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})"
)


def error(code: str, message: str) -> Reply:
    body = {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": _id()}}
    return Reply(200, body)


def _id() -> str:
    return str(uuid.uuid4())


def _balance(account: dict[str, Any]) -> dict[str, Any]:
    fen = account.get("fen", 1_000_000)
    return {
        "Response": {
            "Balance": fen,
            "Uin": 100000000001,
            "RealBalance": fen,
            "CashAccountBalance": fen,
            "IncomeIntoAccountBalance": 0,
            "PresentAccountBalance": 0,
            "FreezeAmount": 0,
            "OweAmount": max(0, -fen),
            "IsAllowArrears": False,
            "IsCreditLimited": False,
            "CreditAmount": 0,
            "CreditBalance": 0,
            "RealCreditBalance": 0,
            "RequestId": _id(),
        }
    }


class TencentCloudFake(SignedCloudFake):
    """Accounts by SecretId: `add_account(secret_id, secret=..., fen=...)`."""

    authorization = _AUTH
    answer = staticmethod(_balance)

    def unsigned(self) -> Reply:
        return error("AuthFailure.InvalidAuthorization", "Authorization is not TC3.")

    def unknown(self, key_id: str) -> Reply:
        return error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")

    def refusal(
        self, request: web.Request, body: bytes, found: re.Match[str], account: dict[str, Any]
    ) -> Reply | None:
        stamp = request.headers.get("X-TC-Timestamp", "")
        if not stamp.isdigit():
            return error("MissingParameter", "The request is missing X-TC-Timestamp.")
        if abs(self.server_now().timestamp() - int(stamp)) > WINDOW:
            return error(
                "AuthFailure.SignatureExpire",
                "Signature expired. Timestamp and server time cannot differ by more than five "
                "minutes.",
            )
        names = found.group(4).split(";")
        if not {"content-type", "host"} <= set(names):
            return error("AuthFailure.SignatureFailure", "content-type and host must be signed.")
        expected = sign(
            secret_id=found.group(1),
            secret_key=account["secret"],
            service=found.group(3),
            timestamp=int(stamp),
            method=request.method,
            query=request.query_string,
            headers={name: request.headers.get(name, "") for name in names},
            payload=body,
        )
        if expected.signature != found.group(5) or found.group(3) != "billing":
            return error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature "
                "is correct.",
            )
        if request.headers.get("X-TC-Action") != "DescribeAccountBalance":
            return error("InvalidAction", "The action requested is invalid.")
        version = request.headers.get("X-TC-Version")
        if version is None:
            return error("MissingParameter", "The request is missing X-TC-Version.")
        if version != "2018-07-09":  # the action exists in this version only
            return error("InvalidAction", f"The action is not in version {version[:20]}.")
        return None
