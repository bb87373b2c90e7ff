"""Amounts are plain decimal strings everywhere (issue 21 §5): `-0.0` rendered as
"balance -0.00 USD", `check --format json` printed `1E+14` and `0E-8`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from balancebot.cli.check import AccountReport, Status, as_json
from balancebot.models import BalanceSnapshot, CurrencyBalance
from balancebot.render import balance_lines
from balancebot.spend import MAX_FRACTION_DIGITS, money, plain

PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
MONEY = re.compile(r"-?[0-9]+\.[0-9]{2}")

# every finite amount below 10^15, written with any exponent: 1E+14, 0E-8, -0, 1.50E-3
amounts = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=20),
    st.integers(-30, 14),
).filter(lambda d: d.is_zero() or d.adjusted() < 15)


@given(amounts)
def test_plain_is_the_exact_value_without_exponent_or_negative_zero(amount: Decimal) -> None:
    text = plain(amount)
    assert PLAIN.fullmatch(text), text
    assert not (amount.is_zero() and text.startswith("-"))
    if amount.as_tuple().exponent >= -MAX_FRACTION_DIGITS:  # type: ignore[operator]
        assert Decimal(text) == amount
    else:
        assert abs(Decimal(text) - amount) <= Decimal(1).scaleb(-MAX_FRACTION_DIGITS) / 2


@given(amounts)
def test_money_has_two_decimals_and_no_negative_zero(amount: Decimal) -> None:
    text = money(amount)
    assert MONEY.fullmatch(text), text
    assert text != "-0.00"
    assert abs(Decimal(text) - amount) <= Decimal("0.005")


def test_the_reported_cases() -> None:
    assert [plain(Decimal(x)) for x in ("1E+14", "0E-8", "-0.0", "-0E-8", "1.50")] == [
        "100000000000000",
        "0.00000000",
        "0.0",
        "0.00000000",
        "1.50",
    ]
    assert [money(Decimal(x)) for x in ("-0.0", "-0.004", "1E+14")] == [
        "0.00",
        "0.00",
        "100000000000000.00",
    ]
    assert [plain(Decimal(x)) for x in ("NaN", "-Infinity", "1E+21")] == [
        "(out of range)",
        "-∞",
        "(out of range)",
    ]


def test_sums_and_differences_of_accepted_amounts_are_shown() -> None:
    """Providers refuse a balance from 10^15, but a top-up from -10^15 + 1 to 10^15 - 1 or
    a digest's total over accounts is larger: it read "topped up +(out of range)"."""
    top_up = Decimal("999999999999999.99") - Decimal("-999999999999999.99")
    assert money(top_up) == "1999999999999999.98"
    assert plain(top_up) == "1999999999999999.98"
    assert money(Decimal(10) ** 21) == "(out of range)"


def test_check_json_and_alert_text_use_plain_amounts() -> None:
    balance = CurrencyBalance(Decimal("1E+14"), Decimal("0E-8"), Decimal("-0.0"))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    snapshot = BalanceSnapshot("prod", "json", at, True, {"USD": balance})
    out = json.dumps(as_json([AccountReport(snapshot, Status.OK)]))
    assert "E+" not in out and "E-" not in out and '"-0' not in out
    [entry] = json.loads(out)["accounts"]
    assert entry["balances"]["USD"] == {
        "total": "100000000000000",
        "granted": "0.00000000",
        "topped_up": "0.0",
    }
    zero = BalanceSnapshot(
        "dev", "json", at, True, {"USD": CurrencyBalance(*[Decimal("-0.0")] * 3)}
    )
    assert balance_lines(zero) == ["USD: 0.00 (granted 0.00, topped-up 0.00)"]
