"""The one strict reader of upstream answers every provider shares.

A broken gateway must never become a verdict: an exponent like `"1e99999999"` (gigabytes
to compute with, and a false RESOLVED), Arabic-Indic digits, `"1_000"`, padded strings,
UTF-16 or BOM bodies and duplicate keys are each a `MalformedResponse`, never a balance,
and no value is ever big enough to cost memory or time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from ..errors import MalformedResponse
from ..models import AMOUNT_FRACTION_DIGITS, AMOUNT_INTEGER_DIGITS

MAX_INTEGER_DIGITS = AMOUNT_INTEGER_DIGITS
MAX_FRACTION_DIGITS = AMOUNT_FRACTION_DIGITS
_QUANTUM = Decimal(1).scaleb(-MAX_FRACTION_DIGITS)
_MAX_NUMBER_TOKEN = 40
"""A JSON number longer than this is no amount (and Decimal need not see it)."""

_DECIMAL = re.compile(rf"[0-9]{{1,{MAX_INTEGER_DIGITS}}}(?:\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?")
_SIGNED = re.compile(rf"-?{_DECIMAL.pattern}")
_ANY_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.[0-9]+)?")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _number(token: str) -> Decimal:
    if len(token) > _MAX_NUMBER_TOKEN:
        raise ValueError("number too long")
    return Decimal(token)


def _integer(token: str) -> int:
    if len(token) > _MAX_NUMBER_TOKEN:
        raise ValueError("number too long")
    return int(token)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"key {key[:20]!r} appears twice")
        found[key] = value
    return found


def load_json(body: bytes) -> Any:
    """UTF-8 JSON, floats as exact `Decimal`s, or `MalformedResponse`.

    Leading and trailing whitespace is allowed (DeepSeek sends keep-alive blank lines
    before its answer); a BOM, another encoding, NaN/Infinity, an oversized number or a
    key given twice is not."""
    if body.startswith(_BOMS):
        raise MalformedResponse("response is not UTF-8 JSON (byte order mark)")
    try:
        text = body.decode("utf-8")
        return json.loads(
            text,
            parse_float=_number,
            parse_int=_integer,
            parse_constant=_no_constant,
            object_pairs_hook=_object,
        )
    except UnicodeDecodeError:
        raise MalformedResponse("response is not UTF-8 JSON") from None
    except json.JSONDecodeError:
        raise MalformedResponse("response is not JSON") from None
    except (ValueError, InvalidOperation) as exc:
        raise MalformedResponse(f"response is not trustworthy JSON: {exc}") from None
    except RecursionError:
        raise MalformedResponse("response is nested too deeply") from None


def amount(value: object, where: str, *, negative: bool = False, numbers: bool = True) -> Decimal:
    """A bounded, finite amount: an ASCII decimal string (at most 15 integer and 8
    fractional digits, a minus sign only if `negative`) or, when `numbers`, a JSON number.

    JSON numbers keep their exact text (`load_json`); digits past the 8th decimal are
    rounded, because an upstream printing binary floats (OpenRouter's usage) has them as
    noise, not because a string is ever rounded."""
    if isinstance(value, str):
        pattern = _SIGNED if negative else _DECIMAL
        if not pattern.fullmatch(value):
            raise MalformedResponse(f"{where} {_unreadable(value, negative)}")
        return Decimal(value)
    if not numbers or isinstance(value, bool) or not isinstance(value, int | Decimal):
        kind = "a decimal string" if not numbers else "a number"
        raise MalformedResponse(f"{where} is missing or not {kind}")
    number = Decimal(value)
    if not number.is_finite() or number.adjusted() >= MAX_INTEGER_DIGITS:  # no arithmetic
        raise MalformedResponse(f"{where} is out of range")
    if number < 0 and not negative:
        raise MalformedResponse(f"{where} is negative")
    if number.as_tuple().exponent < -MAX_FRACTION_DIGITS:  # type: ignore[operator]
        number = number.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    return number


def _unreadable(value: str, negative: bool) -> str:
    """Why a decimal string was refused: '-5' or '0.000000001' is a number, just not
    one that is taken here, and saying "not a number" sent people looking elsewhere."""
    shown = repr(value[:20]) + ("…" if len(value) > 20 else "")
    parts = _ANY_DECIMAL.fullmatch(value)
    if parts is None:
        return f"is not a number: {shown}"
    sign, integer = parts.groups()
    if sign and not negative:
        return f"is negative: {shown}"
    if len(integer) > MAX_INTEGER_DIGITS:
        return f"is out of range (more than {MAX_INTEGER_DIGITS} integer digits): {shown}"
    return f"has more than {MAX_FRACTION_DIGITS} decimal places: {shown}"


def obj(value: object, where: str) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else `MalformedResponse`."""
    if not isinstance(value, dict):
        raise MalformedResponse(f"{where} is missing or not an object")
    return value


def boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedResponse(f"{where} is missing or not a boolean")
    return value


def text(value: object, where: str, limit: int = 200) -> str:
    if not isinstance(value, str):
        raise MalformedResponse(f"{where} is missing or not a string")
    return value[:limit]
