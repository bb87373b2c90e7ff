"""What the three clouds' request signatures share (Tencent Cloud TC3, Alibaba Cloud ACS3,
Volcengine V4), over `hmac`/`hashlib` only: no cloud SDK for a few dozen lines.

All three hash a canonical request (method, path, sorted RFC 3986 query, sorted lower-case
headers, the signed header names, the body's SHA-256) and sign a string built on that
hash; they differ in the key derivation and the string to sign, which each provider's
`sign.py` keeps. The loopback fakes verify with the same pieces from what they received,
and the unit tests pin each to its cloud's published worked example.

A cloud refuses a request whose time is more than a few minutes off its own; `clock_off`
turns the server's `Date` header and the request's time into words a user can act on.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from ..errors import AuthError, CheckError, RateLimited, RequestRejected, UpstreamUnavailable
from .contract import HttpResponse, retry_after

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


@dataclass(frozen=True, slots=True)
class ErrorCodes:
    """How one cloud's error codes read: which mean a wrong key, a clock off, a missing
    permission, throttling or a server fault (any other is the request refused)."""

    cloud: str
    key_id: str
    """Where the access key id is configured (`options.secret_id`)."""
    auth: frozenset[str]
    clock: frozenset[str]
    denied: frozenset[str]
    permission: str
    """What to grant when the key may not read the balance."""
    throttle: frozenset[str]
    busy: frozenset[str] = frozenset()

    def error(
        self,
        code: str,
        message: str,
        signed_at: datetime | None,
        response: HttpResponse,
        now: datetime,
    ) -> CheckError:
        said = f"{code}: {message[:200]}" if message else code
        if code in self.clock:
            return clock_off(self.cloud, said, signed_at, response)
        if code in self.auth:
            return AuthError(
                f"authentication failed ({said}); check the access key secret (api_key) "
                f"and its id ({self.key_id})"
            )
        if code in self.denied:
            return AuthError(f"{self.cloud} refused the key ({said}); {self.permission}")
        if code in self.throttle:
            return RateLimited(f"rate limited ({said})", retry_after=retry_after(response, now))
        if code in self.busy or code.startswith("InternalError"):
            return UpstreamUnavailable(f"server error ({said})")
        return RequestRejected(f"{self.cloud} refused the request ({said})")


def clock_off(
    cloud: str, said: str, signed_at: datetime | None, response: HttpResponse
) -> RequestRejected:
    """The cloud refused the request's time: by how much the machine's clock is off, from
    the answer's `Date` header (said plainly when there is none)."""
    fix = "set the clock right (NTP: timedatectl set-ntp true)"
    try:
        server = parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        server = None
    if signed_at is None or server is None or server.tzinfo is None:
        return RequestRejected(f"{cloud} refused the request's time ({said}); {fix}")
    seconds = round((signed_at - server).total_seconds())
    way = "ahead of" if seconds > 0 else "behind"
    return RequestRejected(
        f"{cloud} refused the request's time ({said}): the machine's clock is off by "
        f"{_span(abs(seconds))} ({way} {cloud}'s); {fix}"
    )


def _span(seconds: int) -> str:
    """Seconds below two minutes; else whole minutes, "about": the `Date` header has
    whole seconds and the answer took its time, so no more is known."""
    if seconds < 120:
        return f"{seconds} s"
    return f"about {round(seconds / 60)} min"
