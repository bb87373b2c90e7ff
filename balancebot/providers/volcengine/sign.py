"""Volcengine OpenAPI signature (HMAC-SHA256, the V4 scheme like AWS SigV4), as "签名方法"
documents it.

`tests/test_cloud_signing.py` reproduces that page's GET example byte for byte: billing
`QueryBalanceAcct` itself, Secret Access Key `WkRZeE1EQmxPVGhs…`, X-Date
20250329T180937Z, signature `1eda9e7e…`; the loopback fake verifies requests with `sign`
from what it received."""

from __future__ import annotations

from collections.abc import Mapping

from ..signing import Signed, canonical_request, hmac_hex, hmac_sha256, sha256_hex

ALGORITHM = "HMAC-SHA256"


def sign(
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    x_date: str,
    method: str,
    query: str,
    headers: Mapping[str, str],
    payload: bytes,
) -> Signed:
    """Signs `headers` (all of them: at least `host` and `x-date`); `x_date` is
    YYYYMMDD'T'HHMMSS'Z' in UTC, and its date part starts the credential scope. The
    secret is used as it is given (base64-looking, never decoded)."""
    canonical, signed_headers = canonical_request(method, "/", query, headers, sha256_hex(payload))
    scope = f"{x_date[:8]}/{region}/{service}/request"
    to_sign = f"{ALGORITHM}\n{x_date}\n{scope}\n{sha256_hex(canonical.encode())}"
    key = hmac_sha256(secret_access_key.encode(), x_date[:8])
    for part in (region, service, "request"):
        key = hmac_sha256(key, part)
    signature = hmac_hex(key, to_sign)
    authorization = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return Signed(canonical, to_sign, signature, authorization)
