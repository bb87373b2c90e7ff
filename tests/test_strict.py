"""The shared strict reader (issue 11 §3): hostile amounts and bodies are malformed answers,
never verdicts, and reading thousands of them costs no memory."""

from __future__ import annotations

import json
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancebot.errors import MalformedResponse
from balancebot.providers.strict import amount, load_json
from balancebot.spend import money

HOSTILE_STRINGS = [
    "1e99999999",
    "1e309",
    "-1e99999999",
    "\u0665",  # Arabic-Indic five
    "\uff11",  # fullwidth one
    "1_000",
    " 1.00",
    "1.00 ",
    "\t1",
    "+1",
    "NaN",
    "Infinity",
    "-0x10",
    "1,000",
    "1.",
    ".5",
    "",
    "1" * 16,
    "1." + "1" * 9,
    "0" * 400,
]


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_hostile_amount_strings_are_malformed(value: str) -> None:
    with pytest.raises(MalformedResponse):
        amount(value, "x", negative=True)


@pytest.mark.parametrize(
    "raw",
    [
        b"1e99999999",
        b"1e309",
        b"-1e309",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1" + b"0" * 50,
        b"0.1e-99999999",
    ],
)
def test_hostile_json_numbers_are_malformed_or_bounded(raw: bytes) -> None:
    try:
        value = load_json(b'{"a": ' + raw + b"}")["a"]
        parsed = amount(value, "a", negative=True)
    except MalformedResponse:
        return
    assert parsed.is_finite() and abs(parsed) < Decimal(10) ** 15
    assert parsed.as_tuple().exponent >= -8  # type: ignore[operator]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"a": 1, "a": 2}', "twice"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        ('{"a": 1}'.encode("utf-16"), "byte order mark"),
        ('{"a": 1}'.encode("utf-16-le"), "not JSON"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_hostile_bodies_are_malformed(raw: bytes, says: str) -> None:
    with pytest.raises(MalformedResponse, match=says):
        load_json(raw)


def test_good_amounts_are_exact() -> None:
    assert amount("110.00", "x") == Decimal("110.00")
    assert amount("999999999999999.99999999", "x") == Decimal("999999999999999.99999999")
    assert amount("-3.5", "x", negative=True) == Decimal("-3.5")
    data = load_json(b'  \n{"a": 49.58894, "b": 3, "c": 0.1}')
    assert amount(data["a"], "a") == Decimal("49.58894")  # not 49.588940000000001
    assert amount(data["b"], "b") == Decimal(3)
    assert amount(data["c"], "c") == Decimal("0.1")


def test_signs_and_types_are_checked() -> None:
    for value, kwargs in [
        ("-1", {}),
        (Decimal(-1), {}),
        (True, {}),
        (None, {}),
        ([], {}),
        (Decimal(1), {"numbers": False}),
    ]:
        with pytest.raises(MalformedResponse):
            amount(value, "x", **kwargs)


def test_rendered_money_is_capped() -> None:
    assert money(Decimal("1e99999999")) == "(out of range)"
    assert money(Decimal("-1e99999999")) == "(out of range)"
    assert money(Decimal("-Infinity")) == "-∞"
    assert money(Decimal("Infinity")) == "∞"
    assert money(Decimal("12.346")) == "12.35"
    assert money(Decimal("1e-99999999")) == "0.00"


amount_like = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(alphabet="0123456789.-+eE_ \u0665\uff11", max_size=30),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{0,12})?([eE][+-]?[0-9]{1,9})?", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(amount_like, st.booleans())
def test_fuzzed_amounts_are_bounded_or_malformed(value: str, as_number: bool) -> None:
    raw = (
        b'{"a": ' + value.encode() + b"}"
        if as_number
        else b'{"a": ' + json.dumps(value).encode() + b"}"
    )
    try:
        parsed = amount(load_json(raw)["a"], "a", negative=True)
    except MalformedResponse:
        return
    assert parsed.is_finite() and abs(parsed) < Decimal(10) ** 15
    assert len(money(parsed)) < 30


def hostile_body(i: int) -> bytes:
    shapes: list[Any] = [
        b'{"total_balance": "1e99999999"}',
        b'{"total_balance": 1e99999999}',
        b'{"a": ' + b"9" * 39 + b"}",
        b'{"a": "' + b"\xd9\xa5" * 1000 + b'"}',
        b'{"a": 1, "a": 2}',
        b"[" * 5000,
        b"\xff\xfe" + b"{}",
        b'{"a": NaN}',
    ]
    return shapes[i % len(shapes)]  # type: ignore[no-any-return]


def test_memory_stays_flat_over_many_hostile_bodies() -> None:
    tracemalloc.start()
    try:
        for i in range(5000):
            try:
                value = load_json(hostile_body(i))
                money(amount(value.get("total_balance", 0), "x"))
            except MalformedResponse:
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"


FIELDS = [
    "is_available", "balance_infos", "currency", "total_balance", "granted_balance",
    "topped_up_balance", "code", "status", "data", "available_balance", "voucher_balance",
    "cash_balance", "balance", "chargeBalance", "totalBalance", "limit", "limit_remaining",
    "usage", "total_credits", "total_usage", "object", "type", "total_cash_balance",
    "total_voucher_balance", "availableBalance", "cashBalance", "creditLimit",
    "hard_limit_usd", "error", "success", "quota_display_type",
]  # fmt: skip
leaves = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(["1e99999999", "1e309", "NaN", "-5", "12.5", "-1e400"]).map(lambda t: _Raw(t)),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([True, False, None, 0, 20000, "CNY", "USD", "account", "prepaid", "postpaid"]),
)


class _Raw(str):
    """A JSON number token written as it is (json.dumps cannot write 1e99999999)."""


def _dump(value: Any) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value)


hostile_json = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6)
    ),
    max_leaves=25,
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), hostile_json, max_size=8))
def test_every_provider_reads_hostile_answers_as_malformed_or_bounded(data: Any) -> None:
    from datetime import UTC, datetime

    from balancebot.errors import CheckError
    from balancebot.plugins import PROVIDERS, available, distribution
    from balancebot.providers import HttpResponse
    from balancebot.providers.contract import provider_class
    from balancebot.providers.engine import provider_options

    from .providers_util import account

    body = _dump(data).encode()
    for name in available(PROVIDERS):
        if distribution(PROVIDERS, name) != "balancebot":
            continue  # a third party's provider installed beside: its options are unknown here
        provider = provider_class(name)()
        options = {"url": "https://x.example/b", "balance": "data.balance", "currency": "USD"}
        config = account(name, "https://x.example", **(options if name == "json" else {}))
        answers = [HttpResponse(200, {}, body)] * 3
        try:
            snapshot = provider.parse(
                config, provider_options(provider, config), answers, datetime.now(UTC)
            )
        except CheckError:
            continue
        for balance in snapshot.balances.values():
            for value in (balance.total, balance.granted, balance.topped_up):
                assert value.is_finite() and value.adjusted() < 16
                assert len(money(value)) < 30


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("-5", "x is negative: '-5'"),
        ("-0.00", "x is negative: '-0.00'"),
        ("9" * 35 + ".99", "x is out of range (more than 15 integer digits): '" + "9" * 20 + "'…"),
        ("0.0000000000000000000001", "x has more than 8 decimal places: '0.000000000000000000'…"),
        ("lots", "x is not a number: 'lots'"),
        ("1e5", "x is not a number: '1e5'"),
        ("١٢٣", "x is not a number: '١٢٣'"),
        ("-", "x is not a number: '-'"),
    ],
)
def test_a_refused_amount_string_says_why(value: str, says: str) -> None:
    """'-5' and '0.0000000000000000000001' were both "not a number", which they are;
    a JSON number with the same fault said "is negative" or "is out of range"."""
    with pytest.raises(MalformedResponse) as caught:
        amount(value, "x")
    assert caught.value.message == says
