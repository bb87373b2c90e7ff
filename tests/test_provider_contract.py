"""The provider contract: options validated at load, the sync executor, the listing, and a
provider written outside balancebot running through the same engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import httpx
import pytest
from msgspec import Struct

from balancebot.cli.providers import providers_table
from balancebot.config import AccountConfig, Config
from balancebot.errors import ConfigError, Timeout
from balancebot.models import BalanceSnapshot, CurrencyBalance
from balancebot.providers import HttpRequest, HttpResponse, Provider, SyncFetcher
from balancebot.providers.contract import Bill
from balancebot.providers.deepseek import DeepSeekProvider
from balancebot.providers.engine import sync_client
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

from .conftest import API_KEY
from .providers_util import account, fetch


def test_options_are_validated_by_the_providers_struct(make_config: Callable[..., Config]) -> None:
    accounts = [
        {"name": "a", "api_key": "k", "provider": "moonshot", "options": {"region": "eu"}},
        {"name": "b", "api_key": "k", "provider": "deepseek", "options": {"org_id": "x"}},
        {"name": "c", "api_key": "k", "provider": "one-api"},
        {"name": "d", "api_key": "k", "provider": "openrouter", "options": {"mode": "credits"}},
    ]
    with pytest.raises(ConfigError) as raised:
        make_config(accounts=accounts)
    assert raised.value.problems == [
        "accounts[0].options.region: 'eu' is not one of 'cn', 'ai'",
        "accounts[1].options.org_id: unknown key (none are known here)",
        "accounts[2]: base_url is required: the relay site's address",
    ]


BUILT_IN = (
    "deepseek",
    "moonshot",
    "siliconflow",
    "openrouter",
    "stepfun",
    "novita",
    "one-api",
    "new-api",
    "json",
    "venice",
    "fal",
    "xai",
    "tencentcloud",
    "aliyun",
    "volcengine",
)


def test_every_built_in_provider_is_listed_with_what_it_needs() -> None:
    table = providers_table()
    for name in BUILT_IN:
        assert f"\n{name}  (" in f"\n{table}"
    assert "management key" in table and "https://api.moonshot.ai" in table
    assert "url (required)" in table


def test_every_built_in_provider_says_what_it_can_tell() -> None:
    """Each declares its bills with values the contract's `Literal`s allow, one per mode
    where modes read different bills, and `balancebot providers` prints them in words."""
    from typing import get_args

    from balancebot.cli.providers import AVAILABILITY, KEYS, KINDS
    from balancebot.plugins import BUILT_IN_PROVIDERS
    from balancebot.providers.contract import (
        Availability,
        BalanceKind,
        Bill,
        KeyScope,
        provider_class,
    )

    assert set(KINDS) == set(get_args(BalanceKind)) and set(KEYS) == set(get_args(KeyScope))
    assert set(AVAILABILITY) == set(get_args(Availability))
    table = "\n\n" + providers_table()
    for name in BUILT_IN_PROVIDERS:
        cls = provider_class(name)
        assert cls.bills and all(isinstance(bill, Bill) for bill in cls.bills), name
        block = table.split(f"\n\n{name}  (", 1)[1].split("\n\n")[0]
        for bill in cls.bills:
            assert bill.kind in KINDS and bill.key in KEYS and bill.units, name
            assert f"{KINDS[bill.kind]} in {bill.units}" in block, name
            needs = f"needs:   {KEYS[bill.key]}; availability {AVAILABILITY[bill.availability]}"
            assert needs in block, name
        modes = [bill.when for bill in cls.bills]
        assert len(set(modes)) == len(modes), name
    block = table.split("\n\nopenrouter  (", 1)[1].split("\n\n")[0]
    assert "balance: (mode = key) what is left of a key's spending limit in USD" in block
    assert "balance: (mode = credits) credits in USD\n  needs:   management key;" in block
    deepseek = table.split("\n\ndeepseek  (", 1)[1]
    assert "needs:   inference key; availability reported by the API" in deepseek


@pytest.mark.slow
async def test_the_sync_executor_keeps_the_deadline_and_the_answers() -> None:
    async with DeepSeekSimulator() as sim:
        sim.add_account(API_KEY)
        config = account("deepseek", sim.base_url)
        fetcher = SyncFetcher(DeepSeekProvider(), sync_client(), FakeClock())
        snapshot = await asyncio.to_thread(fetcher.fetch, config)
        assert snapshot.balances["CNY"].total == Decimal("110.00")
        sim.fail_next(Fault(keepalive_lines=40, line_interval=0.1))
        with pytest.raises(Timeout, match="within 2s"):
            await asyncio.to_thread(fetcher.fetch, config)


class ThirdPartyOptions(Struct, frozen=True, forbid_unknown_fields=True):
    org_id: str


class ThirdPartyProvider(Provider[ThirdPartyOptions]):
    """What a plugin author writes: no I/O, typed options, its name from the account."""

    display_name = "Example"
    Options = ThirdPartyOptions

    def requests(self, account: AccountConfig, options: ThirdPartyOptions) -> list[HttpRequest]:
        url = f"{account.base_url}/user/balance?org={options.org_id}"
        return [HttpRequest("GET", url, {"Authorization": f"Bearer {API_KEY}"}, API_KEY)]

    def parse(
        self,
        account: AccountConfig,
        options: ThirdPartyOptions,
        responses: Sequence[HttpResponse],
        taken_at: datetime,
    ) -> BalanceSnapshot:
        assert responses[0].headers["content-type"] == "application/json"
        balance = CurrencyBalance(Decimal(7), Decimal(0), Decimal(7))
        return BalanceSnapshot(account.name, account.provider, taken_at, True, {"EUR": balance})


async def test_a_third_party_provider_runs_on_the_engine() -> None:
    async with DeepSeekSimulator() as sim:
        sim.add_account(API_KEY)
        snapshot = await fetch(ThirdPartyProvider(), account("example", sim.base_url, org_id="o1"))
    assert snapshot.provider == "example" and snapshot.balances["EUR"].total == 7


def test_the_sync_client_does_not_follow_redirects() -> None:
    with sync_client() as client:
        assert client.follow_redirects is False
        assert isinstance(client, httpx.Client)


async def test_fetch_all_sync_checks_every_account_with_retries(
    make_config: Callable[..., Config],
) -> None:
    from balancebot.models import CheckFailure, FailureKind
    from balancebot.providers.engine import fetch_all_sync
    from balancebot.retry import Backoff
    from balancebot.testing.moonshot import MoonshotFake

    async with DeepSeekSimulator() as sim, MoonshotFake() as moon:
        sim.add_account(API_KEY)
        moon.add_account(API_KEY)
        sim.fail_next(Fault(status=503))  # retried: the second attempt answers
        config = make_config(
            accounts=[
                {"name": "ds", "api_key": API_KEY, "base_url": sim.base_url},
                {"name": "kimi", "api_key": API_KEY, "base_url": moon.url, "provider": "moonshot"},
                {"name": "bad", "api_key": "sk-wrong", "base_url": sim.base_url},
            ]
        )
        backoff = Backoff(initial=0.01, cap=0.02)
        results = await asyncio.to_thread(fetch_all_sync, config, FakeClock(), backoff)
    assert [r.account for r in results] == ["ds", "kimi", "bad"]
    assert isinstance(results[0], BalanceSnapshot) and isinstance(results[1], BalanceSnapshot)
    assert results[1].balances["CNY"].total == Decimal("49.58894")
    assert isinstance(results[2], CheckFailure) and results[2].kind is FailureKind.AUTH


def test_the_providers_command(capsys: pytest.CaptureFixture[str]) -> None:
    from balancebot.cli.main import main

    main(["providers"])
    out = capsys.readouterr().out
    assert "openrouter  (OpenRouter)" in out and "options: mode='key'" in out


def test_the_built_in_providers_are_found_as_pyproject_registers_them() -> None:
    """`plugins.BUILT_IN_PROVIDERS` spares `check` the entry-point scan; it must say what
    pyproject.toml registers, name for name."""
    import tomllib
    from pathlib import Path

    from balancebot.plugins import BUILT_IN_PROVIDERS, PROVIDERS
    from balancebot.providers.contract import provider_class

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"][PROVIDERS] == BUILT_IN_PROVIDERS
    assert provider_class("moonshot").display_name == "Moonshot"


@pytest.mark.parametrize(
    ("attribute", "value", "says"),
    [
        ("bills", (("prepaid", "admin", "USD"),), "bills must be a tuple of Bill"),
        ("bills", Bill("prepaid", "admin", "USD"), "bills must be a tuple of Bill"),
        ("default_hosts", None, "TypeError"),
        ("Options", dict, "TypeError"),
    ],
)
def test_a_provider_declared_wrongly_is_listed_with_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, attribute: str, value: object, says: str
) -> None:
    """A plugin's slip (bills as plain tuples, one Bill without the tuple) once took
    `balancebot providers` down with a traceback, every other provider unlisted."""
    monkeypatch.setattr(DeepSeekProvider, attribute, value)
    table = "\n\n" + providers_table()
    block = table.split("\n\ndeepseek\n", 1)[1].split("\n\n")[0]
    assert block.startswith("  cannot be described: ") and says in block, block
    assert "\n\nmoonshot  (Moonshot)\n" in table
