"""Why a value does not fit a config model: every mistake with its key path.

msgspec stops at the first mistake; this walks the value beside the model to find the
others. It runs only for a configuration already known to be wrong, so it is imported then."""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from msgspec import Struct

from .secrets import format_location
from .suggest import suggestion

Decode = Callable[[type, object], object]


def explain(value: object, type_: Any, path: tuple[int | str, ...], decode: Decode) -> list[str]:
    """Why `value` is not a `type_`, every problem with its key path (`decode`: msgspec's
    hook for the config's own value types)."""
    try:
        msgspec.convert(value, type_, dec_hook=decode)
        return []
    except msgspec.ValidationError as exc:
        return _explain_parts(value, type_, path, decode) or [_describe(exc, path)]


def _explain_parts(
    value: object, type_: Any, path: tuple[int | str, ...], decode: Decode
) -> list[str]:
    bare = get_args(type_)[0] if get_origin(type_) is Annotated else type_
    origin = get_origin(bare)
    choices = _choices(bare)
    if choices and isinstance(value, Hashable) and value not in choices:
        return [f"{format_location(path)}: {value!r} is not one of {', '.join(map(repr, choices))}"]
    if origin is list and isinstance(value, list):
        (item_type,) = get_args(bare)
        return [
            p for i, item in enumerate(value) for p in explain(item, item_type, (*path, i), decode)
        ]
    if origin is dict and isinstance(value, dict):
        key_type, value_type = get_args(bare)
        found = []
        for key, item in value.items():
            found += explain(key, key_type, (*path, key), decode) or explain(
                item, value_type, (*path, key), decode
            )
        return found
    if origin in (Union, UnionType) and isinstance(value, dict):
        return _explain_tagged(value, get_args(bare), path, decode)
    if isinstance(bare, type) and issubclass(bare, Struct) and isinstance(value, dict):
        return _explain_struct(value, bare, path, decode)
    return []


def _choices(type_: Any) -> tuple[object, ...]:
    """The allowed values of a Literal or an Enum, to say them in the error."""
    if get_origin(type_) is Literal:
        return get_args(type_)
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return tuple(member.value for member in type_)
    return ()


def _explain_tagged(
    value: dict[str, Any], members: tuple[Any, ...], path: tuple[int | str, ...], decode: Decode
) -> list[str]:
    tagged = {
        m.__struct_config__.tag: m for m in members if isinstance(m, type) and issubclass(m, Struct)
    }
    if not tagged:
        return []
    tag_field = str(next(iter(tagged.values())).__struct_config__.tag_field)
    tag = value.get(tag_field)
    if isinstance(tag, Hashable) and tag in tagged:
        return explain(value, tagged[tag], path, decode)
    choices = ", ".join(map(repr, tagged))
    return [f"{format_location((*path, tag_field))}: expected one of {choices}, not {tag!r}"]


def _explain_struct(
    value: dict[str, Any], struct: type[Struct], path: tuple[int | str, ...], decode: Decode
) -> list[str]:
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    known = f"known: {', '.join(fields)}" if fields else "none are known here"
    found = []
    for key, item in value.items():
        if key == struct.__struct_config__.tag_field:
            continue
        if key not in fields:
            hint = suggestion(str(key), item, struct, path, decode)
            found.append(f"{format_location((*path, key))}: unknown key ({known}){hint}")
        else:
            found += explain(item, fields[key].type, (*path, key), decode)
    for name, info in fields.items():
        if info.required and name not in value:
            found.append(f"{format_location((*path, name))}: missing")
    return found


def _describe(exc: msgspec.ValidationError, path: tuple[int | str, ...]) -> str:
    """msgspec's `Expected ... - at `$.a[0].b`` as `prefix.a[0].b: Expected ...`."""
    message, at, where = str(exc).rpartition(" - at `")
    if not at:
        message, where = str(exc), "$`"
    location = format_location(path) if path else ""
    location += where.removeprefix("$").removesuffix("`")
    location = location.removeprefix(".")
    return f"{location}: {message}" if location else message
