"""A loopback SiliconFlow `/v1/user/info`, strings and `code: 20000` as SiliconFlow sends."""

from __future__ import annotations

from typing import Any

from .fakeapi import FakeAPI, Reply

PATH = "/v1/user/info"


def _info(account: dict[str, Any]) -> dict[str, Any]:
    granted, paid = account.get("granted", "0.88"), account.get("paid", "88.00")
    return {
        "code": 20000,
        "message": "OK",
        "status": True,
        "data": {
            "id": "user-1",
            "name": "demo",
            "balance": granted,
            "chargeBalance": paid,
            "totalBalance": f"{float(granted) + float(paid):.2f}",
        },
    }


class SiliconFlowFake(FakeAPI):
    def __init__(self) -> None:
        super().__init__({PATH: _info})

    def unauthorized(self) -> Reply:
        return Reply(401, b'"Invalid token"')
