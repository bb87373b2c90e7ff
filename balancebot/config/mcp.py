"""`[mcp]`: what AI assistants connected over the Model Context Protocol may see and do.

One section for both ways in: `balancebot mcp` (stdio, a local process started by the
assistant's client) and `/mcp` on the daemon's `[http]` server (streamable HTTP, for a
client on another machine, which must send `token`)."""

from __future__ import annotations

from msgspec import Struct

from .status_access import MIN_TOKEN_CHARS
from .values import Secret


class McpConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    accounts: list[str] | None = None  # None: every account
    allow_mute: bool = False  # the mute and unmute tools; read-only without
    http: bool = False  # serve /mcp on [http] (needs token)
    token: Secret | None = None  # what HTTP clients send as "Authorization: Bearer ..."

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"token is shorter than {MIN_TOKEN_CHARS} characters; make one with "
                "`openssl rand -hex 32`"
            )
        if self.http and self.token is None:
            raise ValueError(
                "http = true serves /mcp to the network: set token (or token_file), which "
                "clients send as 'Authorization: Bearer <token>'"
            )
