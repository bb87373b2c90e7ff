"""The value types of the configuration (durations, time zones, secrets) and `convert`,
which turns a plain value into a config model or reports every mistake with its key path."""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import msgspec

from ..errors import ConfigError
from .secrets import clean_secret

T = TypeVar("T")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(timedelta):
    """A timedelta written as `90`, `"90s"`, `"5m"`, `"1h30m"` or `"2d"` in the config."""


class Delay(Duration):
    """A Duration that may be zero (`jitter = "0s"`: no jitter)."""


class TimeZoneName(str):
    """An IANA zone name that zoneinfo knows."""


class ListenAddress(str):
    """`host:port` to serve on, its form checked by `parse_listen`."""


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


def parse_duration(value: object, allow_zero: bool = False) -> Duration:
    """`90`, `"90s"`, `"5m"`, `"1h30m"`, `"2d"` → Duration."""
    if isinstance(value, timedelta):
        return Duration(days=value.days, seconds=value.seconds, microseconds=value.microseconds)
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 4h or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text or _DURATION_PART.sub("", text):
            raise ValueError(f"{value!r} is not a duration like 30s, 5m, 4h or 1h30m")
        seconds = sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    else:
        raise ValueError("expected a duration like 30s, 5m, 4h or a number of seconds")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be positive" + (" or zero" if allow_zero else ""))
    return Duration(seconds=seconds)


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
    if type_ is Duration:
        return parse_duration(value)
    if type_ is Delay:
        return Delay(seconds=parse_duration(value, allow_zero=True).total_seconds())
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if type_ is Secret:
        return Secret(clean_secret(value))
    if type_ is Path:
        return Path(value)
    if type_ is ListenAddress:
        parse_listen(value)
        return ListenAddress(value)
    if type_ is TimeZoneName:
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
