"""`did you mean chat.allow?` for a key a model does not know: a near spelling of a known
key, or a value shaped like one (`[[chat.access]]` holding allow rules). Imported only
for a configuration that is wrong."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from msgspec import Struct

from .secrets import format_location


def suggestion(
    key: str,
    value: object,
    struct: type[Struct],
    path: tuple[int | str, ...],
    decode: Callable[[type, object], object],
    hidden: frozenset[str] = frozenset(),
) -> str:
    """`; did you mean <path>.<known>?`, or "" when no known key of `struct` is near
    (`decode`: msgspec's dec_hook for the config's own types, passed in as `explain` gets
    it, so this module does not import `values`, which imports it for a wrong config).
    `hidden`: fields a file never names (`[chat]` gathers `frontends` itself)."""
    fields = {
        f.encode_name: f.type for f in msgspec.structs.fields(struct) if f.encode_name not in hidden
    }
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.75)
    if not close and isinstance(value, dict | list) and value:
        close = [name for name, type_ in fields.items() if _holds_struct(type_)]
        close = [name for name in close if _fits(value, fields[name], decode)][:1]
    return f"; did you mean {format_location((*path, close[0]))}?" if close else ""


def _holds_struct(type_: Any) -> bool:
    """A table or list of tables with keys of its own (not a free-form `dict[str, Any]`,
    which any table would fit)."""
    if get_origin(type_) in (Annotated, list, Union, UnionType):
        return any(_holds_struct(arg) for arg in get_args(type_))
    return isinstance(type_, type) and issubclass(type_, Struct)


def _fits(value: object, type_: Any, decode: Callable[[type, object], object]) -> bool:
    try:
        msgspec.convert(value, type_, dec_hook=decode)
    except (msgspec.ValidationError, ValueError, TypeError):
        return False
    return True
