"""balancebot: warns your team before an LLM API account runs out of balance.

The names below are the public API for plugins (providers, notifiers, chat front-ends)
and their tests; docs/plugins.md documents them. They load lazily (PEP 562), so
`import balancebot` costs nothing and `balancebot check` still starts fast: each name
imports its module on first use. The `TYPE_CHECKING` block gives type checkers and
IDEs the same names; tests/test_public_api.py keeps the two lists and `__all__` equal.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

TYPE_CHECKING = False  # not `typing`'s: importing typing would cost more than all the rest

if TYPE_CHECKING:
    from .clock import Clock as Clock
    from .clock import SystemClock as SystemClock
    from .commands import Commands as Commands
    from .commands import Reply as Reply
    from .commands.access import Caller as Caller
    from .config import AccountConfig as AccountConfig
    from .config import Duration as Duration
    from .config import Secret as Secret
    from .config.values import NoOptions as NoOptions
    from .errors import AuthError as AuthError
    from .errors import BalanceBotError as BalanceBotError
    from .errors import CheckError as CheckError
    from .errors import ConfigError as ConfigError
    from .errors import DeliveryError as DeliveryError
    from .errors import MalformedResponse as MalformedResponse
    from .errors import RateLimited as RateLimited
    from .errors import RequestRejected as RequestRejected
    from .errors import StoreError as StoreError
    from .errors import Timeout as Timeout
    from .errors import UpstreamUnavailable as UpstreamUnavailable
    from .frontends import FrontEnd as FrontEnd
    from .frontends import FrontEndContext as FrontEndContext
    from .frontends import FrontEndState as FrontEndState
    from .frontends import FrontEndStatus as FrontEndStatus
    from .frontends import Supervised as Supervised
    from .models import BalanceSnapshot as BalanceSnapshot
    from .models import CheckFailure as CheckFailure
    from .models import CheckResult as CheckResult
    from .models import CurrencyBalance as CurrencyBalance
    from .models import FailureKind as FailureKind
    from .models import Notification as Notification
    from .models import Severity as Severity
    from .models import TransitionKind as TransitionKind
    from .notifiers import Notifier as Notifier
    from .providers.contract import Bill as Bill
    from .providers.contract import HttpRequest as HttpRequest
    from .providers.contract import HttpResponse as HttpResponse
    from .providers.contract import Provider as Provider
    from .providers.contract import base_url as base_url
    from .providers.contract import bearer as bearer
    from .providers.strict import amount as amount
    from .providers.strict import load_json as load_json
    from .providers.strict import obj as obj
    from .retry import retry_after_seconds as retry_after_seconds

_WHERE: dict[str, str] = {
    # the provider contract (sans I/O) and what a provider reads and builds
    "Provider": "providers.contract",
    "HttpRequest": "providers.contract",
    "HttpResponse": "providers.contract",
    "NoOptions": "config.values",
    "Bill": "providers.contract",
    "AccountConfig": "config",
    "base_url": "providers.contract",
    "bearer": "providers.contract",
    "load_json": "providers.strict",
    "amount": "providers.strict",
    "obj": "providers.strict",
    # the notifier contract
    "Notifier": "notifiers",
    # the chat front-end contract and the command layer it calls
    "FrontEnd": "frontends",
    "FrontEndContext": "frontends",
    "FrontEndState": "frontends",
    "FrontEndStatus": "frontends",
    "Supervised": "frontends",
    "Commands": "commands",
    "Caller": "commands.access",
    "Reply": "commands",
    # the data that flows
    "BalanceSnapshot": "models",
    "CurrencyBalance": "models",
    "CheckFailure": "models",
    "CheckResult": "models",
    "FailureKind": "models",
    "Notification": "models",
    "Severity": "models",
    "TransitionKind": "models",
    # errors
    "BalanceBotError": "errors",
    "ConfigError": "errors",
    "CheckError": "errors",
    "AuthError": "errors",
    "RateLimited": "errors",
    "UpstreamUnavailable": "errors",
    "Timeout": "errors",
    "MalformedResponse": "errors",
    "RequestRejected": "errors",
    "DeliveryError": "errors",
    "StoreError": "errors",
    # options and time
    "Secret": "config",
    "Duration": "config",
    "Clock": "clock",
    "SystemClock": "clock",
    "retry_after_seconds": "retry",
}

# a literal list, as type checkers read it; the test keeps it equal to `_WHERE`'s keys
__all__ = [
    "AccountConfig",
    "AuthError",
    "BalanceBotError",
    "BalanceSnapshot",
    "Bill",
    "Caller",
    "CheckError",
    "CheckFailure",
    "CheckResult",
    "Clock",
    "Commands",
    "ConfigError",
    "CurrencyBalance",
    "DeliveryError",
    "Duration",
    "FailureKind",
    "FrontEnd",
    "FrontEndContext",
    "FrontEndState",
    "FrontEndStatus",
    "HttpRequest",
    "HttpResponse",
    "MalformedResponse",
    "NoOptions",
    "Notification",
    "Notifier",
    "Provider",
    "RateLimited",
    "Reply",
    "RequestRejected",
    "Secret",
    "Severity",
    "StoreError",
    "Supervised",
    "SystemClock",
    "Timeout",
    "TransitionKind",
    "UpstreamUnavailable",
    "amount",
    "base_url",
    "bearer",
    "load_json",
    "obj",
    "retry_after_seconds",
]


def __getattr__(name: str) -> object:
    """Import a public name's module on first use and keep the name here."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'balancebot' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
