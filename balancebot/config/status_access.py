"""Who may read the status page: its token, its basic-auth password hash, and the check
that it is never served to a network by accident.

A password is stored as `scrypt:<n>:<r>:<p>:<salt>:<key>` (salt and key in unpadded
URL-safe base64, no `$`, which the config would read as a variable): `balancebot
hash-password` writes one, and only the hash is ever configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import re

from .values import parse_listen

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB and ~50 ms a try on a small server
KEY_BYTES = 32
MIN_TOKEN_CHARS = 16
MAX_SCRYPT_N = 2**20  # a hash asking for more would cost a GiB at every login
_HASH = re.compile(
    r"scrypt:([0-9]{1,8}):([0-9]{1,3}):([0-9]{1,3}):([A-Za-z0-9_-]{16,}):([A-Za-z0-9_-]{16,})"
)
HASH_FORM = "scrypt:<n>:<r>:<p>:<salt>:<key> as `balancebot hash-password` prints it"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = os.urandom(16) if salt is None else salt
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES
    )
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{_b64(salt)}:{_b64(key)}"


def check_password_hash(text: str) -> str:
    """`text` if it is a hash `verify_password` can use, else a ValueError saying the form."""
    found = _HASH.fullmatch(text)
    if found is None:
        raise ValueError(f"status_password_hash: expected {HASH_FORM}")
    n, r, p = (int(found.group(i)) for i in (1, 2, 3))
    if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError(
            f"status_password_hash: scrypt parameters n={n} r={r} p={p} are out of range "
            f"(n a power of two up to {MAX_SCRYPT_N}); expected {HASH_FORM}"
        )
    return text


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` (a checked hash) was made from; the keys are
    compared in constant time. Costs one scrypt: call it off the event loop."""
    found = _HASH.fullmatch(stored)
    if found is None:
        return False
    n, r, p = (int(found.group(i)) for i in (1, 2, 3))
    salt, key = _unb64(found.group(4)), _unb64(found.group(5))
    tried = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(key), maxmem=256 * n * r + 2**20
    )
    return hmac.compare_digest(tried, key)


def is_loopback(listen: str) -> bool:
    """Whether `host:port` can only be reached from this machine."""
    host, _port = parse_listen(listen)
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def exposure_problem(
    listen: str, enabled: bool, status_page: bool, guarded: bool, public: bool
) -> str | None:
    """Why this [http] setup would serve the status page where it should not, or None."""
    if not status_page:
        return None
    if not enabled:
        return "status_page = true needs the [http] server: set enabled = true"
    if guarded or public or is_loopback(listen):
        return None
    return (
        f"status_page = true with listen = {listen!r} would show every balance to the "
        "network without a login; set status_token or status_user and "
        "status_password_hash, listen on 127.0.0.1 (a reverse proxy in front, see "
        "docs/status-page.md), or set status_public = true to publish it on purpose"
    )


def check_token(token: str) -> str:
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(
            f"status_token: at least {MIN_TOKEN_CHARS} characters (this one has {len(token)}); "
            "make one with: openssl rand -hex 24"
        )
    return token
