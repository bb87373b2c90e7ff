"""What keeps a check's failures safe and readable, whatever raised them.

A failure message never leaves a check holding a secret or a header value (masked with
every secret of the configuration); a bug's traceback is logged the first time it hits an
account, one line after that (never silent, never a log storm); an account whose checks
keep failing inside balancebot is a self alert (`checks:<account>`); and each check ends
with one log line and its metrics.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .config import AccountConfig, Config
from .configure import config_secrets
from .health import Health
from .models import CheckFailure, CheckResult, FailureKind
from .providers.engine import internal_failure
from .redact import SecretMask

if TYPE_CHECKING:
    from .clock import Clock
    from .metrics import Metrics

log = logging.getLogger("balancebot.checks")  # the checks' lines, wherever they are said

INTERNAL_FAILURES_UNHEALTHY = 3
"""Internal failures in a row after which an account's checks count as broken (self alert)."""


class CheckGuard:
    def __init__(self, health: Health, clock: Clock, metrics: Metrics | None = None) -> None:
        self.health = health
        self._clock = clock
        self._metrics = metrics
        self.mask = SecretMask(())
        self._internal: dict[str, int] = {}  # account -> internal failures in a row
        self._traced: set[tuple[str, str]] = set()  # (account, exception type) logged in full

    def configure(self, config: Config) -> None:
        self.mask = SecretMask(config_secrets(config))  # built once: thousands of keys

    def trace_once(self, account: str, exc: BaseException, template: str) -> None:
        """The traceback the first time an error of this type hits this account, one line
        after that."""
        what = (account, type(exc).__name__)
        message = self.mask.safe_message(f"{type(exc).__name__}: {exc}")
        log.error(template, account, message, exc_info=what not in self._traced)
        self._traced.add(what)

    def internal_failure(self, account: AccountConfig, exc: BaseException) -> CheckFailure:
        """A bug, MemoryError, UnicodeEncodeError... as the check's failed result."""
        self.trace_once(account.name, exc, "check %s failed inside balancebot: %s")
        return internal_failure(account, exc, self._clock.now())

    def without_secrets(self, result: CheckResult) -> CheckResult:
        """The last line of defence: no failure message leaves here holding a secret."""
        if not isinstance(result, CheckFailure):
            return result
        clean = self.mask.safe_message(result.message)
        if clean == result.message:
            return result
        return CheckFailure(result.account, result.provider, result.taken_at, result.kind, clean)

    def not_recorded(self, account: str, exc: Exception) -> None:
        """The store refused the check: its cause in one line (the chain at DEBUG)."""
        log.error("check %s not recorded: %s", account, self.mask.safe_message(str(exc)))
        log.debug("check %s not recorded", account, exc_info=exc)

    def watch_internal(self, account: str, result: CheckResult) -> None:
        name = f"checks:{account}"
        if not (isinstance(result, CheckFailure) and result.kind is FailureKind.INTERNAL):
            self._internal.pop(account, None)
            self.health.clear(name)
            return
        count = self._internal[account] = self._internal.get(account, 0) + 1
        if count >= INTERNAL_FAILURES_UNHEALTHY:
            self.health.report(
                name,
                f"checks of {account} failed inside balancebot {count} times in a row: "
                f"{result.message}",
            )

    def finished(self, account: str, result: CheckResult, elapsed: float) -> None:
        """The check's one log line and its metrics."""
        if self._metrics is not None:
            self._metrics.observe_check(result, elapsed)
        fields = {"account": account, "duration_ms": round(elapsed * 1000)}
        if isinstance(result, CheckFailure):
            log.warning(
                "check %s failed (%s) in %.0f ms: %s",
                account,
                result.kind.value,
                elapsed * 1000,
                result.message,
                extra={**fields, "outcome": result.kind.value},
            )
        else:
            log.info(
                "check %s ok in %.0f ms",
                account,
                elapsed * 1000,
                extra={**fields, "outcome": "ok"},
            )
