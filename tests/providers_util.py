"""Running a provider through the real engine and httpx against its loopback fake."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from balancebot.config import AccountConfig, convert
from balancebot.errors import CheckError
from balancebot.models import BalanceSnapshot
from balancebot.providers import Fetcher, Provider
from balancebot.redact import mask_runs
from balancebot.testing.clock import FakeClock

from .conftest import API_KEY


def account(provider: str, base_url: str | None, **options: Any) -> AccountConfig:
    raw = {"name": "acct", "api_key": API_KEY, "provider": provider, "timeout": "2s"}
    if base_url is not None:
        raw["base_url"] = base_url
    return convert({**raw, "options": options}, AccountConfig)


async def fetch(
    provider: Provider[Any], config: AccountConfig, clock: FakeClock | None = None
) -> BalanceSnapshot:
    async with httpx.AsyncClient(follow_redirects=False) as http:
        return await Fetcher(provider, http, clock or FakeClock()).fetch(config)


async def refused(
    provider: Provider[Any],
    config: AccountConfig,
    raised: type[CheckError],
    says: str,
    clock: FakeClock | None = None,
) -> CheckError:
    """The check fails with `raised`, its message says `says`, and no piece of the key is
    in it (the fakes echo the key in some errors)."""
    with pytest.raises(raised, match=says) as caught:
        await fetch(provider, config, clock)
    assert mask_runs(caught.value.message, [API_KEY]) == caught.value.message, caught.value.message
    return caught.value
