"""Text from outside (an upstream's error message, a stored comment, a name) as a terminal
or a monitoring system may print it."""

from __future__ import annotations


def shown(text: str) -> str:
    """`text` with every character `str.isprintable` refuses (control, format and bidi
    characters, line and paragraph breaks) written as its escape (`\\x1b`, `\\u202e`,
    `\\n`): it can neither drive a terminal nor start a line of its own."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
