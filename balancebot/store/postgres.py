"""Connecting to PostgreSQL: a refusal by the server is one line naming the cause and what
to do, raised as `StoreError` from every command.

SQLAlchemy's asyncpg dialect wraps errors of statements, not of connecting: a missing
database or role (asyncpg's `InvalidCatalogNameError`, ...) escaped every handler as a
100-line traceback. `connect` is the dialect's connection factory (`async_creator_fn`)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from ..errors import StoreError

if TYPE_CHECKING:
    import asyncpg


class Refused(StoreError):
    """The server could not be reached or said no; the line names host, port, database
    and role, so no URL is put before it."""


async def connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """`asyncpg.connect`, its server-side refusals turned into `Refused`."""
    import asyncpg  # here: a daemon on SQLite never loads the driver (~3 MiB)

    if "sslmode" in kwargs:  # libpq's spelling, what hosted databases hand out
        kwargs["ssl"] = kwargs.pop("sslmode")
    try:
        return await asyncpg.connect(*args, **kwargs)
    except asyncpg.PostgresError as exc:
        raise Refused(refusal(exc, kwargs)) from None
    except TypeError as exc:  # `?bogus=1` in the URL becomes a keyword asyncpg refuses
        said = str(exc).rpartition(" argument ")[2]
        raise Refused(f"PostgreSQL takes no option {said} in store.url — remove it") from None
    except asyncpg.InterfaceError as exc:  # the client's side: TLS refused, a bad option
        raise Refused(f"cannot connect to PostgreSQL at {_where(kwargs)}: {exc}") from None
    except socket.gaierror as exc:
        host = kwargs.get("host")
        raise Refused(
            f'cannot resolve the PostgreSQL host "{host}" ({exc.strerror}) — fix store.url'
        ) from None
    except ConnectionRefusedError:
        raise Refused(
            f"nothing listens at {_where(kwargs)} — start PostgreSQL there or fix store.url"
        ) from None


def refusal(exc: asyncpg.PostgresError, params: dict[str, Any]) -> str:
    """What the server said, and what to do about it. No password: the server never
    repeats one, and `params` is read for the host, port, role and database only."""
    where = _where(params)
    database, user = params.get("database") or "?", params.get("user") or "?"
    said = " ".join(str(exc).split())
    code = getattr(exc, "sqlstate", None)
    if code == "3D000":  # invalid_catalog_name
        return (
            f'PostgreSQL database "{database}" does not exist at {where} — create it '
            f"(createdb {database}) or fix store.url"
        )
    if code == "28000" and "does not exist" in said:  # invalid_authorization_specification
        return (
            f'PostgreSQL role "{user}" does not exist at {where} — create it '
            f"(createuser {user}) or fix the user in store.url"
        )
    if code == "28P01":  # invalid_password
        return f'PostgreSQL at {where} refused the password of role "{user}" — fix store.url'
    if code == "28000":  # pg_hba.conf: this host, user or database is not allowed in
        return f"PostgreSQL at {where} refused the connection ({said}) — check pg_hba.conf"
    return f"PostgreSQL at {where} refused the connection: {said} (SQLSTATE {code})"


def _where(params: dict[str, Any]) -> str:
    return f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
