"""Everything balancebot raises on purpose.

    BalanceBotError
    ├── ConfigError             the configuration is unusable (exit status 2)
    ├── CheckError              a balance check failed; says whether retrying can help
    │   ├── AuthError           401/403: the key is wrong or revoked (permanent)
    │   ├── RateLimited         429: slow down, maybe for `retry_after` seconds
    │   ├── UpstreamUnavailable 5xx, refused or reset connection (transient)
    │   ├── Timeout             no complete answer within the check's time budget
    │   ├── MalformedResponse   an answer we cannot trust (bad JSON, wrong types, ...)
    │   └── RequestRejected     any other 4xx: our request is wrong, retrying won't help
    ├── DeliveryError           a notifier could not deliver; says whether it is permanent
    ├── StartError              the daemon cannot start (the [http] listen port is taken, ...)
    └── StoreError              the state store is unreachable or inconsistent
        └── LeaseLost           another replica took over a check whose lease ran out

Messages never contain secrets: errors are built from status codes and response bodies,
and the provider redacts its key from anything it quotes.
"""

from __future__ import annotations

from .models import FailureKind


class BalanceBotError(Exception):
    """Root of every error balancebot raises deliberately."""


class ConfigError(BalanceBotError):
    """The configuration cannot be used; `problems` lists every bad key path at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


class CheckError(BalanceBotError):
    """A balance check failed. `kind` is what the store and rules see."""

    kind: FailureKind = FailureKind.UNAVAILABLE
    transient: bool = False

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class AuthError(CheckError):
    kind = FailureKind.AUTH
    transient = False


class RateLimited(CheckError):
    kind = FailureKind.RATE_LIMITED
    transient = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamUnavailable(CheckError):
    kind = FailureKind.UNAVAILABLE
    transient = True


class Timeout(CheckError):
    kind = FailureKind.TIMEOUT
    transient = True


class MalformedResponse(CheckError):
    kind = FailureKind.MALFORMED
    transient = False


class RequestRejected(CheckError):
    kind = FailureKind.REJECTED
    transient = False


class DeliveryError(BalanceBotError):
    """A notifier failed. Permanent errors (bad token, unknown chat) are not retried."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class StartError(BalanceBotError):
    """The daemon cannot start; the message names the cause and what to do."""


class StoreError(BalanceBotError):
    """The state store failed."""


class LeaseLost(StoreError):
    """A replica's claim on a check ran out and another replica took the account over: its
    results are refused, so two replicas never both advance one alert."""
