"""What the three cloud billing providers (Tencent Cloud, Alibaba Cloud, Volcengine) share
beyond the signing (`signing.py`): reading an error out of the cloud's own answer shape,
what its codes mean (a wrong key, a clock off, a missing permission, throttling), and
the access key id as a masked option.

A cloud refuses a request whose time is more than a few minutes off its own; `clock_off`
turns the server's `Date` header and the request's signing time into words a user can
act on ("the machine's clock is off by about 16 min (behind Tencent Cloud's)").
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from msgspec import Struct

from ..config import Secret
from ..errors import (
    AuthError,
    CheckError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
from ..i18n import N_
from ..phrases import rough_span
from .contract import HttpRequest, HttpResponse, OptionsT, Provider, retry_after
from .strict import load_json


class AccessKeyOptions(Struct, frozen=True, forbid_unknown_fields=True):
    access_key_id: Secret
    """The access key's id (the cloud's IAM/RAM console); the secret is `api_key`. A
    `Secret`, so masked like the key, though it signs nothing."""

    def __post_init__(self) -> None:
        present(self.access_key_id, "access_key_id")


def present(key_id: Secret, name: str) -> None:
    """An empty id (`${VAR:-}`, a blank file) would only read as a wrong key later."""
    if not key_id.get_secret_value():
        raise ValueError(f"{name} is empty")


class CloudProvider(Provider[OptionsT]):
    """A cloud billing API: `codes` say what its error codes mean; `error_in` finds the
    error object (`{"Code", "Message"}`) in an answer; `stamp` is the request header its
    signature's time is in, and that time's format ("epoch": Unix seconds)."""

    codes: ClassVar[ErrorCodes]
    error_at: ClassVar[str]
    """Where the error code sits in the answer, to say so when it is not a string."""
    stamp: ClassVar[tuple[str, str]]

    @abstractmethod
    def error_in(self, answer: Any, status: int) -> Mapping[str, Any] | None: ...

    def signed_at(self, request: HttpRequest) -> datetime | None:
        header, form = self.stamp
        text = request.headers.get(header, "")
        if form == "epoch":
            return datetime.fromtimestamp(int(text), UTC) if text.isdigit() else None
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            return None

    def error_for(
        self, request: HttpRequest, response: HttpResponse, now: datetime
    ) -> CheckError | None:
        try:
            found = self.error_in(load_json(response.body), response.status)
        except MalformedResponse:
            found = None
        if found is None:  # by its status; on success `parse` reads it or says what is wrong
            return super().error_for(request, response, now)
        code, message = found.get("Code"), found.get("Message")
        if not isinstance(code, str):
            return MalformedResponse(f"{self.error_at} is missing or not a string")
        message = message if isinstance(message, str) else ""
        return self.codes.error(code[:80], message, self.signed_at(request), response, now)


@dataclass(frozen=True, slots=True)
class ErrorCodes:
    """How one cloud's error codes read: which mean a wrong key, a clock off, a missing
    permission, throttling or a server fault (any other is the request refused)."""

    cloud: str
    key_id: str
    """Where the access key id is configured (`options.secret_id`)."""
    auth: frozenset[str]
    clock: frozenset[str]
    denied: frozenset[str]
    permission: str
    """What to grant when the key may not read the balance."""
    throttle: frozenset[str]
    busy: frozenset[str] = frozenset()

    def error(
        self,
        code: str,
        message: str,
        signed_at: datetime | None,
        response: HttpResponse,
        now: datetime,
    ) -> CheckError:
        message = " ".join(message.split())[:200]  # Alibaba's holds the string to sign
        said = f"{code}: {message}" if message else code
        if code in self.clock:
            return clock_off(self.cloud, said, signed_at, response)
        if code in self.auth:
            return AuthError(
                f"authentication failed ({said}); check the access key secret (api_key) "
                f"and its id ({self.key_id})"
            )
        if code in self.denied:
            return AuthError(f"{self.cloud} refused the key ({said}); {self.permission}")
        if code in self.throttle:
            return RateLimited(f"rate limited ({said})", retry_after=retry_after(response, now))
        if code in self.busy or code.startswith("InternalError") or response.status >= 500:
            return UpstreamUnavailable(f"server error ({said})")
        if response.status == 429:  # a throttling code not (yet) listed
            return RateLimited(f"rate limited ({said})", retry_after=retry_after(response, now))
        return RequestRejected(f"{self.cloud} refused the request ({said})")


def clock_off(
    cloud: str, said: str, signed_at: datetime | None, response: HttpResponse
) -> RequestRejected:
    """The cloud refused the request's time: by how much the machine's clock is off, from
    the answer's `Date` header (said plainly when there is none)."""
    fix = "set the clock right (NTP: timedatectl set-ntp true)"
    try:
        server = parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        server = None
    if signed_at is None or server is None or server.tzinfo is None:
        return RequestRejected(f"{cloud} refused the request's time ({said}); {fix}")
    seconds = round((signed_at - server).total_seconds())
    way = "ahead of" if seconds > 0 else "behind"
    return RequestRejected(
        f"{cloud} refused the request's time ({said}): the machine's clock is off by "
        f"{_span(abs(seconds))} ({way} {cloud}'s); {fix}"
    )


def _span(seconds: int) -> str:
    """Seconds below two minutes; else `phrases.rough_span`'s minutes, hours or days (a
    clock a day off read "about 1441 min"), "about": the `Date` header has whole seconds
    and the answer took its time, so no more is known. English, as every check error is."""
    shown = rough_span(timedelta(seconds=seconds), N_)
    return shown if seconds < 120 else f"about {shown}"
