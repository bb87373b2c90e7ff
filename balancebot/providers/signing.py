"""What the three clouds' request signatures share (Tencent Cloud TC3, Alibaba Cloud ACS3,
Volcengine V4), over `hmac`/`hashlib` only: no cloud SDK for a few dozen lines.

All three hash a canonical request (method, path, sorted RFC 3986 query, sorted lower-case
headers, the signed header names, the body's SHA-256) and sign a string built on that
hash; they differ in the key derivation and the string to sign, which each provider's
`sign.py` keeps. The loopback fakes verify with the same pieces from what they received,
and the unit tests pin each to its cloud's published worked example.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class Signed:
    """A signer's steps, each comparable with its cloud's published example."""

    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def rfc3986(text: str) -> str:
    """Percent-encoding as all three document it: only A-Z a-z 0-9 - _ . ~ stay."""
    return quote(text, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(params.items()))


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload_hash: str
) -> tuple[str, str]:
    """The canonical request and its signed header names (lower case, sorted, values
    trimmed, each line ended by a newline, then an empty line)."""
    lowered = sorted((k.lower(), v.strip()) for k, v in headers.items())
    block = "".join(f"{k}:{v}\n" for k, v in lowered)
    signed = ";".join(k for k, _ in lowered)
    return f"{method}\n{path}\n{query}\n{block}\n{signed}\n{payload_hash}", signed
