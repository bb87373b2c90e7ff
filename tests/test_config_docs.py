"""docs/configuration.md documents every option of every config model, provider and
notifier: it cannot drift."""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from msgspec import Struct

from balancebot.config import ChatConfig, Config, NotifierConfig
from balancebot.notifiers import notifier_class
from balancebot.plugins import NOTIFIERS, PROVIDERS, available, distribution
from balancebot.providers.contract import provider_class

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _structs(type_: Any) -> list[type[Struct]]:
    """The Struct types a field holds: itself, list items, dict values, union members."""
    if get_origin(type_) is Annotated:
        return _structs(get_args(type_)[0])
    if get_origin(type_) in (list, dict, Union, UnionType):
        return [s for arg in get_args(type_) for s in _structs(arg)]
    if isinstance(type_, type) and issubclass(type_, Struct):
        return [type_]
    return []


def _heading(path: str, type_: Any) -> str:
    origin = get_origin(get_args(type_)[0] if get_origin(type_) is Annotated else type_)
    if origin is list:
        return f"[[{path}]]"
    if origin is dict:
        return f"[{path}.<key>]"
    return f"[{path}]"


def sections() -> list[tuple[str, list[msgspec.structs.FieldInfo]]]:
    """(heading, fields) for every table a configuration file can hold."""
    found: list[tuple[str, list[msgspec.structs.FieldInfo]]] = []

    def walk(heading: str, path: str, struct: type[Struct]) -> None:
        fields = list(msgspec.structs.fields(struct))
        if struct is NotifierConfig:  # the file's options sit beside name and type
            fields = [f for f in fields if f.encode_name != "options"]
        if struct is ChatConfig:  # plugin front-ends' [chat.<name>] sit beside telegram
            fields = [f for f in fields if f.encode_name != "frontends"]
        found.append((heading, fields))
        for info in fields:
            inner = _structs(info.type)
            child = f"{path}.{info.encode_name}" if path else info.encode_name
            tagged = [s for s in inner if s.__struct_config__.tag is not None]
            if len(tagged) > 1:  # a tagged union: shared keys once, then each type's own
                table = _heading(child, info.type)
                shared = set.intersection(
                    *({f.name for f in msgspec.structs.fields(s)} for s in tagged)
                )
                found.append(
                    (table, [f for f in msgspec.structs.fields(tagged[0]) if f.name in shared])
                )
                for member in tagged:
                    tag = member.__struct_config__.tag
                    own = [f for f in msgspec.structs.fields(member) if f.name not in shared]
                    found.append((f'{table} type = "{tag}"', own))
                    for f in own:
                        for s in _structs(f.type):
                            walk(
                                _heading(f"{child}.{f.encode_name}", f.type),
                                f"{child}.{f.encode_name}",
                                s,
                            )
                continue
            for s in inner:
                walk(_heading(child, info.type), child, s)

    walk("(top level)", "", Config)
    # balancebot's own plugins; a third party's installed beside documents itself
    for name in available(PROVIDERS):
        if distribution(PROVIDERS, name) != "balancebot":
            continue
        fields = list(msgspec.structs.fields(provider_class(name).Options))
        found.append((f'[accounts.options] provider = "{name}"', fields))
    for name in available(NOTIFIERS):
        if distribution(NOTIFIERS, name) != "balancebot":
            continue
        fields = list(msgspec.structs.fields(notifier_class(name).Options))
        found.append((f'[[notifiers]] type = "{name}"', fields))
    return found


def documented() -> dict[str, set[str]]:
    """Each `### heading` of the reference and the `key`s its table rows name."""
    keys: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in DOCS.read_text().splitlines():
        if line.startswith("### "):
            current = keys.setdefault(line.removeprefix("### ").strip().strip("`"), set())
        elif current is not None and (row := re.match(r"^\| `([\w<>-]+)` \|", line)):
            current.add(row.group(1))
    return keys


def test_every_option_is_documented_and_nothing_else() -> None:
    docs = documented()
    problems = []
    for heading, fields in sections():
        if heading not in docs:
            problems.append(f"no section `### {heading}`")
            continue
        expected = {f.encode_name for f in fields}
        problems += [
            f"{heading}: `{k}` is not documented" for k in sorted(expected - docs[heading])
        ]
        problems += [f"{heading}: `{k}` is no option" for k in sorted(docs[heading] - expected)]
    assert not problems, "docs/configuration.md is out of date:\n" + "\n".join(problems)


def test_the_readme_links_the_reference() -> None:
    readme = (DOCS.parents[1] / "README.md").read_text()
    assert "(docs/configuration.md)" in readme
