"""The `alertmanager` notifier's options."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from msgspec import Meta, Struct

from ...config import RequestTimeout, Secret
from ...config.durations import CheckInterval
from ..amshape import placeholders


class AlertmanagerOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    urls: Annotated[list[str], Meta(min_length=1)]
    """Every Alertmanager of a cluster: a client posts each alert to all of them."""
    basic_auth_username: str | None = None
    basic_auth_password: Secret | None = None
    bearer_token: Secret | None = None
    resend_interval: CheckInterval = CheckInterval(minutes=1)
    """How often a firing alert is posted again; it ends 4 intervals after the last post."""
    runbook_url: str = ""
    """The `runbook_url` annotation; `{label}` placeholders take the alert's labels."""
    generator_url: str = ""
    """The alerts' `generatorURL` (Alertmanager's "Source" link); by default a
    `balancebot://<notifier name>` address that says where they came from."""
    timeout: RequestTimeout = RequestTimeout(seconds=10)

    def __post_init__(self) -> None:
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"urls: {url!r} is not an http(s) URL")
            if parts.username or parts.password:
                raise ValueError(
                    "urls: credentials in a URL would be shown in logs; "
                    "set basic_auth_username and basic_auth_password"
                )
            if parts.query or parts.fragment:
                raise ValueError(f"urls: {url!r}: Alertmanager's address takes no ? or #")
        if (self.basic_auth_username is None) != (self.basic_auth_password is None):
            raise ValueError("basic_auth_username and basic_auth_password go together")
        if self.bearer_token is not None and self.basic_auth_password is not None:
            raise ValueError("bearer_token or basic_auth_*, not both")
        placeholders(self.runbook_url)
        if self.generator_url:
            parts = urlsplit(self.generator_url)
            if not parts.scheme or " " in self.generator_url:
                raise ValueError(f"generator_url: {self.generator_url!r} is not a URL")
