"""A loopback Volcengine billing `QueryBalanceAcct`: HMAC-SHA256 checked as "签名方法" says
(`host` and `x-date` signed, the credential scope's date, region and service those of the
request), errors as `ResponseMetadata.Error` `{"CodeN", "Code", "Message"}` with the
gateway's HTTP status, amounts as strings.

Volcengine's signing page states no window for `X-Date`; this fake refuses one more than
15 minutes off its clock (SigV4's, which the scheme follows) with `InvalidTimestamp`."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..providers.signing import canonical_query
from ..providers.volcengine.sign import ALGORITHM, sign
from .fakeapi import Reply
from .signedcloud import SignedCloudFake

PATH = "/"
WINDOW = 15 * 60
_AUTH = re.compile(
    rf"{ALGORITHM} Credential=([^/]+)/([0-9]{{8}})/([a-z0-9-]+)/([a-z0-9_]+)/request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})"
)
_CODES = {  # the common error codes: CodeN and HTTP status
    "InvalidTimestamp": (100006, 400),
    "InvalidAccessKey": (100009, 401),
    "SignatureDoesNotMatch": (100010, 401),
    "AccessDenied": (100013, 403),
    "FlowLimitExceeded": (100018, 429),
    "InternalServiceError": (100001, 500),
    "MissingSignature": (100005, 401),
    "InvalidActionOrVersion": (100008, 404),
}


def _metadata() -> dict[str, str]:
    return {
        "RequestId": uuid.uuid4().hex.upper(),
        "Action": "QueryBalanceAcct",
        "Version": "2022-01-01",
        "Service": "billing",
        "Region": "cn-beijing",
    }


def error(code: str, message: str, status: int | None = None) -> Reply:
    number, usual = _CODES.get(code, (100000, 400))
    metadata = {**_metadata(), "Error": {"CodeN": number, "Code": code, "Message": message}}
    return Reply(usual if status is None else status, {"ResponseMetadata": metadata})


def _balance(account: dict[str, Any]) -> dict[str, Any]:
    available = account.get("available", "10000.00")
    return {
        "ResponseMetadata": _metadata(),
        "Result": {
            "AccountID": 2100000001,
            "ArrearsBalance": "0.00",
            "AvailableBalance": available,
            "CashBalance": available,
            "CreditLimit": "0.00",
            "FreezeAmount": "0.00",
        },
    }


class VolcengineFake(SignedCloudFake):
    """Accounts by Access Key ID: `add_account(key_id, secret=..., available="12.34")`."""

    authorization = _AUTH
    answer = staticmethod(_balance)

    def unsigned(self) -> Reply:
        return error("MissingSignature", "The request is missing signature.")

    def unknown(self, key_id: str) -> Reply:
        return error(
            "InvalidAccessKey", f"The accesskey [{key_id}] included in the request is invalid."
        )

    def refusal(
        self, request: web.Request, body: bytes, found: re.Match[str], account: dict[str, Any]
    ) -> Reply | None:
        x_date = request.headers.get("X-Date", "")
        try:
            date = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return error("InvalidTimestamp", "The signature of the request is expired.")
        if abs((self.server_now() - date).total_seconds()) > WINDOW:
            return error("InvalidTimestamp", "The signature of the request is expired.")
        names = found.group(5).split(";")
        expected = sign(
            access_key_id=found.group(1),
            secret_access_key=account["secret"],
            region=found.group(3),
            service=found.group(4),
            x_date=x_date,
            method=request.method,
            query=canonical_query(dict(request.query)),
            headers={name: request.headers.get(name, "") for name in names},
            payload=body,
        )
        if (
            not {"host", "x-date"} <= set(names)
            or found.group(2) != x_date[:8]
            or (found.group(3), found.group(4)) != ("cn-beijing", "billing")
            or expected.signature != found.group(6)
        ):
            return error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your Secret Access Key and signing method. Consult the "
                "service documentation for details.",
            )
        if (request.query.get("Action"), request.query.get("Version")) != (
            "QueryBalanceAcct",
            "2022-01-01",
        ):
            return error("InvalidActionOrVersion", "Could not find operation.")
        return None
