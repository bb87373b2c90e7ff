"""Every amount a configuration file sets stays within what balancebot holds, compares and
prints: the limits of provider amounts (`models.AMOUNT_*_DIGITS`). `warning_below = "1e400"`
once validated, then every alert said `< (out of range)` and the perfdata was invalid.

Checked on the file's values, not in the models: rules build limits of their own at run
time (a limit grown with spend has 28 digits), and those are not the user's to fix."""

from __future__ import annotations

from decimal import Decimal

from msgspec import Struct, structs

from ..models import AMOUNT_FRACTION_DIGITS, AMOUNT_INTEGER_DIGITS
from .secrets import format_location


def amount_problems(value: object, path: tuple[int | str, ...]) -> list[str]:
    """`key.path: what is wrong` for each Decimal in `value` (Structs, lists, dicts)."""
    if isinstance(value, Decimal):
        problem = _problem(value)
        return [f"{format_location(path)}: {problem}"] if problem else []
    if isinstance(value, Struct):
        return [
            p
            for f in structs.fields(value)
            for p in amount_problems(getattr(value, f.name), (*path, f.encode_name))
        ]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in amount_problems(item, (*path, i))]
    if isinstance(value, dict):
        return [p for k, item in value.items() for p in amount_problems(item, (*path, k))]
    return []


def _problem(amount: Decimal) -> str | None:
    if not amount.is_finite():
        return None  # the model says so, with the key's own words
    if amount and amount.adjusted() >= AMOUNT_INTEGER_DIGITS:
        return (
            f"out of range: an amount has at most {AMOUNT_INTEGER_DIGITS} digits before the point"
        )
    if amount != amount.quantize(Decimal(1).scaleb(-AMOUNT_FRACTION_DIGITS)):
        return f"an amount has at most {AMOUNT_FRACTION_DIGITS} decimal places"
    return None
