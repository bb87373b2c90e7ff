"""One bad account must not cost the others their verdict (issue 21, section 3): what a
request cannot carry is refused by `validate` with its key path, and whatever still reaches
a check is that account's failure, permanent, not an internal error for everyone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from balancebot.cli.check import Status, check_all
from balancebot.config import AccountConfig, Config, Secret
from balancebot.configure import parse_config
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError
from balancebot.models import BalanceSnapshot, CheckFailure, FailureKind
from balancebot.providers.engine import Deadline
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY

GOOD = {"name": "good", "api_key": API_KEY, "base_url": "http://127.0.0.1:9"}
NEWLINE_URL = "http://127.0.0.1:9/v1\nHost: evil"


def json_account(**options: Any) -> dict[str, Any]:
    base = {"url": "http://127.0.0.1:9/b", "balance": "b", "currency": "USD"}
    return {"name": "bad", "provider": "json", "api_key": "k", "options": base | options}


CASES = {
    "non-ascii-header": (
        json_account(headers={"X-Team": "café"}),
        "accounts[1].options.headers.X-Team: the value holds the non-ASCII character U+00E9 "
        "at position 4",
    ),
    "crlf-header": (
        json_account(headers={"X-Team": "a\r\nX-Evil: 1"}),
        "accounts[1].options.headers.X-Team: the value holds a control character (U+000D) "
        "at position 2; it cannot be sent in an HTTP header",
    ),
    "bad-header-name": (
        json_account(headers={"X Team": "a"}),
        "accounts[1].options: 'X Team' is not a header name",
    ),
    "newline-base_url": (
        {"name": "bad", "api_key": "k", "base_url": "${BAD_URL}"},
        "accounts[1].base_url: the URL holds a control character (U+000A) at position 22",
    ),
    "newline-options-url": (
        json_account(url="${BAD_URL}"),
        "accounts[1].options.url: the URL holds a control character (U+000A) at position 22",
    ),
    "unparsable-url": (
        {"name": "bad", "api_key": "k", "base_url": "http://[::1"},
        "accounts[1].base_url: not a URL a request can go to (Invalid IPv6 URL)",
    ),
    "port-out-of-range": (
        {"name": "bad", "api_key": "k", "base_url": "http://127.0.0.1:99999/"},
        "accounts[1].base_url: not a URL a request can go to (Port out of range 0-65535)",
    ),
    "trailing-newline-url": (
        {"name": "bad", "api_key": "k", "base_url": "${URL_WITH_NEWLINE}"},
        "accounts[1].base_url: the URL holds a control character (U+000A) at position 20; it "
        "cannot be sent in a request (does the ${VARIABLE} it comes from end in one?)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_refuses_what_a_request_cannot_carry(case: str, tmp_path: Path) -> None:
    """On main `validate` said OK to each, and `check` exited 3 with `internal error:
    UnicodeEncodeError` / `InvalidURL` for every account (or retried the CR/LF header)."""
    bad, expected = CASES[case]
    env = {"BAD_URL": NEWLINE_URL, "URL_WITH_NEWLINE": "http://127.0.0.1:9/\n"}
    with pytest.raises(ConfigError) as raised:
        parse_config({"accounts": [GOOD, bad]}, tmp_path, env=env)
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(expected), raised.value.problems
    assert "evil" not in str(raised.value) and "café" not in str(raised.value)


async def test_a_request_the_wire_cannot_carry_is_that_accounts_permanent_failure(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    """Built by hand (a plugin, a future option): the others still get their verdict, the
    bad account's check fails as `rejected` without a request and without a retry."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", "100.00")})
    config = make_config(accounts=[{**GOOD, "base_url": simulator.base_url}])
    by_hand = [
        AccountConfig(name="newline", api_key=Secret("k"), base_url=NEWLINE_URL),  # type: ignore[arg-type]
        AccountConfig(
            name="crlf", api_key=Secret("sk-a\r\nX-Evil: 1"), base_url=simulator.base_url
        ),  # type: ignore[arg-type]
    ]
    config = msgspec.structs.replace(config, accounts=[*config.accounts, *by_hand])
    async with Daemon.open(config, clock) as daemon:
        for name in ("newline", "crlf", "good"):
            await daemon.pipeline.check(name)
        results = {name: daemon.memory.latest(name) for name in ("good", "newline", "crlf")}
    assert isinstance(results["good"], BalanceSnapshot)
    for name in ("newline", "crlf"):
        failure = results[name]
        assert isinstance(failure, CheckFailure), failure
        assert failure.kind is FailureKind.REJECTED, failure
        assert failure.message.startswith("cannot send the request: "), failure.message
    assert "at position 22" in results["newline"].message  # type: ignore[union-attr]
    assert "header 'Authorization' holds a control character (U+000D)" in (
        results["crlf"].message  # type: ignore[union-attr]
    )
    assert len(simulator.requests) == 1  # the good account's: nothing bad went out, once


async def test_in_check_an_unexpected_error_is_that_accounts_unknown(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    """On main `check` printed `internal error: InvalidURL` and exited 3 for every account
    (`base_url = "http://[::1"` passed `validate`, which now refuses it)."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", "100.00")})
    config = make_config(accounts=[{**GOOD, "base_url": simulator.base_url}])
    broken = AccountConfig(name="bad", api_key=Secret("k"), base_url="http://[::1")  # type: ignore[arg-type]
    config = msgspec.structs.replace(config, accounts=[*config.accounts, broken])
    deadline = Deadline(time.monotonic() + 10, 10)
    reports = await asyncio.to_thread(check_all, config, deadline)  # the simulator runs here
    assert [r.status for r in reports] == [Status.OK, Status.UNKNOWN]
    failure = reports[1].result
    assert isinstance(failure, CheckFailure) and failure.kind is FailureKind.INTERNAL
    assert failure.message == "internal error: InvalidURL: Invalid port: ':1'"
