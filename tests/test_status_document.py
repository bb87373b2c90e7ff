"""The status document as a pure function of what the checks remember, its JSON form, and
the [http] settings that keep the status page from being served to a network by accident."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balancebot.config import Config, HttpConfig, convert
from balancebot.config.status_access import hash_password, is_loopback, verify_password
from balancebot.errors import ConfigError
from balancebot.labels import Matcher
from balancebot.memory import AccountMemory
from balancebot.models import (
    AlertKey,
    AlertState,
    AlertStatus,
    BalanceSnapshot,
    CheckFailure,
    CheckResult,
    CurrencyBalance,
    FailureKind,
    Severity,
    Silence,
)
from balancebot.status.document import as_json, build_status

NOW = datetime(2026, 3, 11, 6, 48, tzinfo=UTC)
SECRET = "sk-test-0123456789abcdef"

TEAM = Matcher.parse('team="search"')


def remembered(
    config: Config, results: Mapping[str, list[CheckResult]], states: Sequence[AlertState] = ()
) -> AccountMemory:
    """The daemon's read model, as the checks would leave it after `results`."""
    memory = AccountMemory(config)
    for account_results in results.values():
        for result in account_results:
            memory.record(result, [], [])
            if isinstance(result, BalanceSnapshot):
                memory.succeeded(result.account, result.taken_at)
    memory.remember(states, [])
    return memory


def snap(account: str, hours_ago: float, topped: str, granted: str = "0") -> BalanceSnapshot:
    g, t = Decimal(granted), Decimal(topped)
    balances = {"CNY": CurrencyBalance(g + t, g, t)}
    return BalanceSnapshot(account, "deepseek", NOW - timedelta(hours=hours_ago), True, balances)


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(
        accounts=[
            {"name": n, "api_key": SECRET, "base_url": "http://127.0.0.1:9"}
            for n in ("prod", "dev", "new")
        ],
        timezone="Asia/Shanghai",  # local midnight 16:00 UTC: "today" began 14h48 ago
    )


def test_accounts_balances_runway_spend_alerts_and_silences(config: Config) -> None:
    failure = CheckFailure(
        "dev", "deepseek", NOW - timedelta(minutes=2), FailureKind.AUTH, "HTTP 401 " + "x" * 400
    )
    # 12 h of history: 2 CNY spent an hour, 1E+1 kept as an exponent by Decimal
    prod = [snap("prod", 12 - h, str(40 - 2 * h), "0") for h in range(13)]
    memory = remembered(
        config,
        {"prod": prod, "dev": [snap("dev", 1, "5.5", "1E+1"), failure]},
        [
            AlertState(
                AlertKey("prod", "low", "CNY"),
                AlertStatus.FIRING,
                Severity.WARNING,
                started_at=NOW - timedelta(hours=3),
                last_notified_at=NOW - timedelta(hours=1),
            ),
            AlertState(
                AlertKey("dev", "failing"),
                AlertStatus.FIRING,
                Severity.CRITICAL,
                started_at=NOW - timedelta(minutes=2),
            ),
            AlertState(AlertKey("dev", "gone"), AlertStatus.INACTIVE),
            AlertState(AlertKey("removed", "low", "CNY"), AlertStatus.FIRING, Severity.WARNING),
        ],
    )
    silences = [
        Silence(1, "dev", None, NOW + timedelta(hours=2), "telegram:42 (ann)", NOW, "rotating"),
        Silence(2, None, "low", NOW - timedelta(seconds=1), "cli", NOW - timedelta(hours=1)),
        Silence(3, None, None, NOW + timedelta(hours=3), "cli", NOW, matchers=(TEAM,)),
    ]
    # prod's history as `load_status` reads it from the store (memory keeps what rules need)
    document = build_status(config, memory, silences, NOW, {"prod": prod})
    assert [a.name for a in document.accounts] == ["prod", "dev", "new"]
    assert [a.key.account for a in document.firing] == ["dev", "prod"]  # critical first
    wire = json.loads(json.dumps(as_json(document)))
    prod, dev, new = wire["accounts"]
    assert prod["last_check"] == {
        "at": "2026-03-11T06:48:00Z",
        "outcome": "ok",
        "available": True,
        "failure_kind": None,
        "message": None,
    }
    [cny] = prod["balances"]
    assert (cny["total"], cny["granted"], cny["topped_up"]) == ("16", "0", "16")
    assert cny["runway"]["state"] == "estimate"
    assert cny["runway"]["per_day"] == "48.00000000"  # 24 CNY over 12 h
    assert cny["runway"]["days"] == "0.33"
    assert cny["runway"]["runs_out_at"] == "2026-03-11T14:48:00Z"
    assert cny["spent_today"] == "24"  # every snapshot is after 16:00 UTC yesterday
    # failing now: the failure, and the balance last seen, with its time
    assert dev["last_check"]["outcome"] == "failed"
    assert dev["last_check"]["failure_kind"] == "auth"
    assert len(dev["last_check"]["message"]) == 300
    assert dev["balances_at"] == "2026-03-11T05:48:00Z"
    assert dev["balances"][0]["granted"] == "10"  # a plain decimal, never 1E+1
    assert dev["balances"][0]["runway"] == {
        "state": "not_enough_history",
        "covered_seconds": 0,
        "needed_seconds": 6 * 3600,
    }
    assert new == {
        "name": "new",
        "provider": "deepseek",
        "last_check": None,
        "last_success": None,
        "balances_at": None,
        "uncapped": False,
        "balances": [],
    }
    assert wire["alerts"] == [
        {
            "account": "dev",
            "rule": "failing",
            "subject": "",
            "severity": "critical",
            "status": "firing",
            "since": "2026-03-11T06:46:00Z",
            "last_sent": None,
        },
        {
            "account": "prod",
            "rule": "low",
            "subject": "CNY",
            "severity": "warning",
            "status": "firing",
            "since": "2026-03-11T03:48:00Z",
            "last_sent": "2026-03-11T05:48:00Z",
        },
    ]
    assert [s["id"] for s in wire["silences"]] == [1, 3]  # the ended one is not shown
    assert wire["silences"][1]["matchers"] == ['team="search"']
    assert wire["silences"][0]["matchers"] == []
    assert wire["silences"][0]["until"] == "2026-03-11T08:48:00Z"
    assert wire["timezone"] == "Asia/Shanghai"
    assert SECRET not in json.dumps(wire)


def test_no_spend_is_no_end_in_sight(config: Config) -> None:
    flat = [snap("prod", 12 - h, "40") for h in range(13)]
    memory = remembered(config, {"prod": flat})
    [cny] = as_json(build_status(config, memory, [], NOW, {"prod": flat}))["accounts"][0][
        "balances"
    ]
    assert cny["runway"]["state"] == "no_spend"
    assert cny["runway"]["days"] is None and cny["runway"]["runs_out_at"] is None
    assert cny["spent_today"] == "0"


def http(**raw: object) -> HttpConfig:
    return convert(raw, HttpConfig, ("http",))


TOKEN = "0123456789abcdef0123"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (
            {"enabled": True, "status_page": True, "listen": "0.0.0.0:9464"},
            "would show every balance to the network without a login",
        ),
        (
            {"enabled": True, "status_page": True, "listen": "status.example:9464"},
            "without a login",
        ),
        ({"status_page": True}, "set enabled = true"),
        ({"status_token": "short"}, "at least 16 characters"),
        ({"status_user": "ops"}, "status_user and status_password_hash go together"),
        ({"status_user": "ops", "status_password_hash": "hunter2"}, "expected scrypt:"),
        (
            {"status_user": "a:b", "status_password_hash": hash_password("pw", b"0" * 16)},
            "holds no ':'",
        ),
    ],
)
def test_refused_http_settings(raw: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        http(**raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"enabled": True, "status_page": True},  # loopback by default
        {"enabled": True, "status_page": True, "listen": "[::1]:0"},
        {"enabled": True, "status_page": True, "listen": "localhost:0"},
        {"enabled": True, "status_page": True, "listen": "0.0.0.0:0", "status_token": TOKEN},
        {
            "enabled": True,
            "status_page": True,
            "listen": "0.0.0.0:0",
            "status_user": "ops",
            "status_password_hash": hash_password("pw", b"0" * 16),
        },
        {"enabled": True, "status_page": True, "listen": "0.0.0.0:0", "status_public": True},
        {"enabled": True, "listen": "0.0.0.0:0"},  # no page: /metrics as before
    ],
)
def test_accepted_http_settings(raw: dict[str, object]) -> None:
    http(**raw)


def test_password_hashes() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt:16384:8:1:") and "$" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert hash_password("correct horse") != stored  # salted
    assert not verify_password("x", "not a hash")


LOOPBACK = [("127.0.0.1:1", True), ("127.9.9.9:1", True), ("[::1]:1", True), ("localhost:1", True)]
NETWORK = [("0.0.0.0:1", False), ("[::]:1", False), ("10.0.0.1:1", False), ("host:1", False)]


@pytest.mark.parametrize(("listen", "loopback"), [*LOOPBACK, *NETWORK])
def test_loopback(listen: str, loopback: bool) -> None:
    assert is_loopback(listen) is loopback
