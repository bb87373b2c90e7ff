"""Secrets in the configuration: `${VAR}` and `<key>_file` resolution, and what a secret may hold.

Resolution runs on the raw TOML tables before the models see them. A command resolves only
the parts it uses (`needed`): `check` must not need a Telegram token to read a balance.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Location = tuple[int | str, ...]

_ENV_REF = re.compile(
    r"\$\$"  # a literal $
    r"|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}"  # ${VAR} or ${VAR:-default}
    r"|(\$\{[^}]*\}?)"  # anything else after ${: malformed or unclosed
    r"|\$([A-Za-z_][A-Za-z0-9_]*)"  # $VAR, which a shell would expand and TOML does not
)


def format_location(loc: Location) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def clean_secret(value: str) -> str:
    """The secret without surrounding whitespace (a secret file's or env var's newline), or a
    ValueError naming what cannot go into an HTTP header, never the secret itself."""
    value = value.strip()
    sendable(value, "the secret", "an HTTP header")
    return value


def sendable(value: str, what: str, where: str, spaces: bool = True) -> None:
    """A ValueError naming the first character of `value` that `where` (an HTTP header, a
    URL) cannot carry: a control character (a line break from `${VAR}`), a non-ASCII one,
    or a space when not `spaces`. The value itself is never quoted: it may be a secret."""
    for i, char in enumerate(value):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            hint = " (does the ${VARIABLE} it comes from end in one?)" * (i == len(value) - 1)
            raise ValueError(
                f"{what} holds a control character (U+{ord(char):04X}) at position {i + 1}; "
                f"it cannot be sent in {where}{hint}"
            )
        if ord(char) > 0x7E:
            raise ValueError(
                f"{what} holds the non-ASCII character U+{ord(char):04X} at position "
                f"{i + 1} (a curly quote or a pasted symbol?); it cannot be sent in {where}"
            )
        if char == " " and not spaces:
            raise ValueError(f"{what} holds a space at position {i + 1}; write it as %20")


def resolve_secrets(
    node: Any,
    base_dir: Path,
    env: Mapping[str, str],
    problems: list[str],
    needed: Callable[[Location], bool] = lambda _: True,
    path: Location = (),
) -> Any:
    """Expand `${VAR}` in strings and `<key>_file` into `<key>`, recording problems.

    Where `needed(path)` is false a subtree is resolved leniently: its problems are dropped
    (a missing variable becomes an empty string) because the command will not use it."""
    if not needed(path):
        problems = []
    if isinstance(node, dict):
        resolved: dict[str, Any] = {}
        for key, value in node.items():
            where = (*path, key)
            if key.endswith("_file") and isinstance(value, str):
                text = _read_file(node, where, base_dir, env, problems if needed(where) else [])
                if text is not None:
                    resolved[key.removesuffix("_file")] = text
                continue
            resolved[key] = resolve_secrets(value, base_dir, env, problems, needed, where)
        return resolved
    if isinstance(node, list):
        return [
            resolve_secrets(item, base_dir, env, problems, needed, (*path, i))
            for i, item in enumerate(node)
        ]
    if isinstance(node, str):
        return expand(node, format_location(path), env, problems)
    return node


def _read_file(
    node: Mapping[str, Any],
    where: Location,
    base_dir: Path,
    env: Mapping[str, str],
    problems: list[str],
) -> str | None:
    """The text of the file a `<key>_file` names, or None after recording why not."""
    key = str(where[-1])
    target = key.removesuffix("_file")
    at = format_location(where)
    if target in node:
        problems.append(f"{at}: set at most one of {target} and {key}")
        return None
    file = base_dir / expand(str(node[key]), at, env, problems)
    try:
        text = file.read_text(encoding="utf-8")
        mode = file.stat().st_mode
    except OSError as exc:
        problems.append(f"{at}: cannot read {file}: {exc.strerror}")
        return None
    if mode & 0o077:
        log.warning(
            "%s: %s can be read by other users (mode %s); chmod 600 it", at, file, oct(mode & 0o777)
        )
    return text.strip()


def expand(text: str, where: str, env: Mapping[str, str], problems: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        whole, name, default, malformed, bare = match.group(0, 1, 2, 3, 4)
        if whole == "$$":
            return "$"
        if bare is not None:
            problems.append(
                f"{where}: ${bare} is not expanded; write ${{{bare}}} (or $$ for a literal $)"
            )
            return whole
        if malformed is not None:
            inner = malformed.removeprefix("${").removesuffix("}")
            if not malformed.endswith("}"):
                hint = f"; write ${{{inner}}}" if re.fullmatch(r"[A-Za-z_]\w*", inner) else ""
                problems.append(f"{where}: '${{' without a closing '}}'{hint}")
            else:
                problems.append(
                    f"{where}: {malformed!r} is not a variable reference; write ${{NAME}} "
                    "or ${NAME:-default} (or $$ for a literal $)"
                )
            return whole
        if name in env:
            return env[name]
        if default is not None:
            return str(default)
        problems.append(f"{where}: environment variable {name} is not set")
        return whole  # not "": an empty value would add a second, misleading problem

    return _ENV_REF.sub(replace, text)
