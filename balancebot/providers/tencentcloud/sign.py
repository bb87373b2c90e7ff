"""Tencent Cloud API 3.0 signature v3 (TC3-HMAC-SHA256), as "签名方法 v3" documents it.

`tests/test_cloud_signing.py` reproduces the worked example of that page byte for byte
(SecretKey `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`, timestamp 1551113065, signature
`72e494ea…`); the loopback fake verifies requests with `sign` from what it received."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ..signing import Signed, canonical_request, hmac_hex, hmac_sha256, sha256_hex

ALGORITHM = "TC3-HMAC-SHA256"


def sign(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    timestamp: int,
    method: str,
    query: str,
    headers: Mapping[str, str],
    payload: bytes,
) -> Signed:
    """Signs `headers` (all of them) and the payload; the date in the scope is the UTC
    date of `timestamp` (a local date fails every night at midnight, the docs warn)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical, signed_headers = canonical_request(method, "/", query, headers, sha256_hex(payload))
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{sha256_hex(canonical.encode())}"
    key = hmac_sha256(f"TC3{secret_key}".encode(), date)
    key = hmac_sha256(hmac_sha256(key, service), "tc3_request")
    signature = hmac_hex(key, to_sign)
    authorization = (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return Signed(canonical, to_sign, signature, authorization)
