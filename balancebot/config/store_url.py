"""What `store.url` may say, checked by `validate` rather than first by `run`, connecting."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

_URL_SCHEMES = {"sqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql"}


SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def check_sslmode(url: str) -> None:
    """`?sslmode=` goes to asyncpg as `ssl` (`store/postgres.py`), which knows libpq's modes
    only: a bogus one passed `validate` and was first reported by `run`, connecting."""
    if not url.startswith("postgresql://"):
        return
    for mode in parse_qs(urlsplit(url).query, keep_blank_values=True).get("sslmode", []):
        if mode.replace("_", "-") not in SSLMODES:  # asyncpg takes verify_full too
            raise ValueError(
                f"url: sslmode {mode[:20]!r} is not a PostgreSQL SSL mode; use one of "
                f"{', '.join(SSLMODES)}"
            )


def normalise_store_url(url: str) -> str:
    """`postgres://` (what hosting providers hand out) and `postgresql+driver://` as
    `postgresql://`, `sqlite+driver://` as `sqlite://`: the store picks its own asyncio
    drivers. Any other database is refused here rather than failing in `run`."""
    scheme, sep, rest = url.partition("://")
    dialect = _URL_SCHEMES.get(scheme.lower().partition("+")[0]) if sep else None
    if dialect is None:
        raise ValueError(
            f"url {scheme + sep if sep else url!r}: unsupported database; supported: "
            "sqlite:///path/to/file.db, postgresql://user@host:5432/db (postgres:// too)"
        )
    return f"{dialect}://{rest}"
