"""Alibaba Cloud OpenAPI signature V3 (ACS3-HMAC-SHA256), as "V3版本请求体&签名机制"
documents it.

`tests/test_cloud_signing.py` reproduces the fixed-parameter example of that page byte for byte
(AccessKey `YourAccessKeyId`/`YourAccessKeySecret`, ECS RunInstances at
2023-10-26T10:22:32Z, nonce `3156853299f313e23d1673dc12e1703d`, signature `06563a9e…`);
the loopback fake verifies requests with `sign` from what it received."""

from __future__ import annotations

from collections.abc import Mapping

from ..signing import Signed, canonical_request, hmac_hex, sha256_hex

ALGORITHM = "ACS3-HMAC-SHA256"


def sign(
    *,
    access_key_id: str,
    access_key_secret: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
) -> Signed:
    """Signs `headers` (all of them: `host`, the `x-acs-*` ones, `content-type` if sent);
    the key is the AccessKey secret itself, no derivation."""
    canonical, signed_headers = canonical_request(method, path, query, headers, payload_hash)
    to_sign = f"{ALGORITHM}\n{sha256_hex(canonical.encode())}"
    signature = hmac_hex(access_key_secret.encode(), to_sign)
    authorization = (
        f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},"
        f"Signature={signature}"
    )
    return Signed(canonical, to_sign, signature, authorization)
