"""The value types of the configuration (time zones, secrets, listen addresses; durations
are in durations.py) and `convert`, which turns a plain value into a config model or
reports every mistake with its key path."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import msgspec

from ..errors import ConfigError
from .durations import Delay, Duration, parse_duration
from .secrets import clean_secret, sendable

__all__ = [
    "Delay",
    "Duration",
    "HeaderValue",
    "HttpUrl",
    "ListenAddress",
    "Name",
    "NoOptions",
    "Secret",
    "TimeZoneName",
    "convert",
    "decode",
    "parse_duration",
]

T = TypeVar("T")


class TimeZoneName(str):
    """An IANA zone name that zoneinfo knows."""


NAME_RULE = "a name is 1 to 64 characters without spaces or control characters"


class Name(str):
    """An account, rule or notifier name. Names are printed in alerts and terminals, so
    a control, bidi or format character (ESC, U+202E, NUL) would rewrite what is shown."""


def check_name(text: str) -> str:
    """`text` if it is a valid name, else a ValueError saying what a name is."""
    if not 1 <= len(text) <= 64 or " " in text or not text.isprintable():
        # isprintable() is False for every Unicode category C* and separator but " "
        raise ValueError(f"{text!r} is not a valid name: {NAME_RULE}")
    return text


class HttpUrl(str):
    """An http(s) URL that a request can carry: no line break (a `${VAR}` holding one),
    no space, no control or non-ASCII character (write those percent-encoded)."""


class HeaderValue(str):
    """An HTTP header value: visible ASCII and spaces only (no CR/LF: no injected header)."""


class ListenAddress(str):
    """`host:port` to serve on, its form checked by `parse_listen`."""


class NoOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The options of a provider, notifier or front-end with nothing to configure: any key
    given is an error."""


class Secret:
    """A string that keeps out of reprs and tracebacks; reading it is explicit."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_LISTEN_EXAMPLES = "like 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464 or localhost:9464"
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def parse_listen(text: str) -> tuple[str, int]:
    """`host:port` → (host, port), checked without the network: an IPv4 address, an IPv6
    address in brackets, or a host name; a port from 0 to 65535 (0: any free port)."""
    head, colon, port_text = text.rpartition(":")
    if not colon or not head:
        raise ValueError(f"{text!r} is not host:port ({_LISTEN_EXAMPLES})")
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"the port in {text!r} must be a number from 0 to 65535")
    if head.startswith("[") and head.endswith("]"):
        host = head[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in {text!r} is not an IPv6 address") from None
        return host, int(port_text)
    if ":" in head:
        raise ValueError(f"put an IPv6 address in brackets, like [::1]:9464 (not {text!r})")
    if all(part.isdigit() for part in head.split(".")):  # no host name is all numbers
        try:
            ipaddress.IPv4Address(head)
        except ValueError:
            raise ValueError(
                f"{head!r} in {text!r} is not an IPv4 address (four numbers from 0 to 255)"
            ) from None
    elif len(head) > 253 or not all(_HOST_LABEL.match(p) for p in head.split(".")):
        raise ValueError(
            f"{head!r} in {text!r} is not a host name (letters, digits, hyphens and dots)"
        )
    return head, int(port_text)


def decode(type_: type, value: object) -> object:
    """msgspec's hook for the types it does not know."""
    if isinstance(type_, type) and issubclass(type_, Duration):
        return parse_duration(value, type_)
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if type_ is Secret:
        return Secret(clean_secret(value))
    if type_ is Name:
        return Name(check_name(value))
    if type_ is Path:
        return Path(value)
    if type_ is HttpUrl:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL")
        sendable(value, "the URL", "a request", spaces=False)
        try:
            urlsplit(value).port  # noqa: B018  (reading it checks it)
        except ValueError as exc:  # "http://[::1", "http://h:99999"
            raise ValueError(f"not a URL a request can go to ({exc})") from None
        return HttpUrl(value)
    if type_ is HeaderValue:
        sendable(value, "the value", "an HTTP header")
        return HeaderValue(value)
    if type_ is ListenAddress:
        parse_listen(value)
        return ListenAddress(value)
    if type_ is TimeZoneName:
        import zoneinfo  # here: only a configured `timezone` needs it (`check` seldom does)

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return TimeZoneName(value)
    raise TypeError(f"no decoder for {type_.__name__}")  # a model uses a type added here


def convert(value: object, type_: type[T], where: tuple[int | str, ...] = ()) -> T:
    """`value` as a `type_`, or a `ConfigError` with every problem and its key path."""
    try:
        return msgspec.convert(value, type_, dec_hook=decode)
    except msgspec.ValidationError:
        from .explain import explain  # only for a config that is wrong

        raise ConfigError(explain(value, type_, where, decode)) from None
