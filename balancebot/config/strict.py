"""The base of every configuration model: strict, so unknown keys are errors."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from msgspec import Struct

if TYPE_CHECKING:
    pass


def finite(amount: Decimal | None, where: str) -> None:
    if amount is not None and not amount.is_finite():
        raise ValueError(f"{where} {amount} is not a finite amount")


class Strict(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Unknown keys are errors: a typo must not silently become a default.

    Subclasses repeat `frozen=True, kw_only=True` because mypy's dataclass_transform
    support does not inherit class parameters; msgspec would."""
