"""DeepSeek `GET /user/balance` over httpx, parsed strictly into a `BalanceSnapshot`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ...clock import Clock
from ...config import AccountConfig
from ...errors import (
    AuthError,
    CheckError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    Timeout,
    UpstreamUnavailable,
)
from ...models import BalanceSnapshot, Currency, CurrencyBalance

MAX_BODY_BYTES = 256 * 1024
"""A balance answer is a few hundred bytes; anything far larger is not one."""

_AMOUNT_FIELDS = ("total_balance", "granted_balance", "topped_up_balance")


class DeepSeekProvider:
    display_name = "DeepSeek"
    default_base_url = "https://api.deepseek.com"

    def __init__(self, http: httpx.AsyncClient, clock: Clock) -> None:
        self._http = http
        self._clock = clock

    async def fetch(self, account: AccountConfig) -> BalanceSnapshot:
        base_url = (account.base_url or self.default_base_url).rstrip("/")
        key = account.api_key.get_secret_value()
        budget = account.timeout.total_seconds()
        try:
            # httpx's read timeout is per chunk; keep-alive blank lines would reset it
            # forever, so the whole exchange gets one deadline.
            async with asyncio.timeout(budget):
                status, headers, body = await self._get(f"{base_url}/user/balance", key, account)
        except TimeoutError:
            raise Timeout(f"no complete answer within {budget:g}s") from None
        except httpx.TimeoutException:
            raise Timeout(f"connecting took longer than {budget:g}s") from None
        except httpx.TransportError as exc:
            # httpx's text says why (refused, DNS, an untrusted TLS certificate), never the key
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise UpstreamUnavailable(
                f"cannot reach {httpx.URL(base_url).host}: {reason}"
            ) from None
        error = error_for_status(status, headers, body, secret=key)
        if error is not None:
            raise error
        return parse_balance(body, account.name, "deepseek", self._clock.now())

    async def _get(
        self, url: str, key: str, account: AccountConfig
    ) -> tuple[int, httpx.Headers, bytes]:
        request_timeout = httpx.Timeout(
            account.timeout.total_seconds(), connect=account.connect_timeout.total_seconds()
        )
        async with self._http.stream(
            "GET",
            url,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            timeout=request_timeout,
        ) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    if response.is_success:
                        raise MalformedResponse(
                            f"response larger than {MAX_BODY_BYTES // 1024} KiB"
                        )
                    break  # an oversized error page: its status says enough
            return response.status_code, response.headers, bytes(body)


def error_for_status(
    status: int, headers: httpx.Headers, body: bytes, secret: str = ""
) -> CheckError | None:
    """The one mapping from DeepSeek's HTTP statuses to balancebot's errors."""
    if 200 <= status < 300:
        return None
    detail = _error_message(body, secret)
    said = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        return AuthError(f"authentication failed ({said}); the API key is wrong or revoked")
    if status == 429:
        return RateLimited(f"rate limited ({said})", retry_after=_retry_after(headers))
    if status >= 500:
        return UpstreamUnavailable(f"server error ({said})")
    return RequestRejected(f"request rejected ({said})")


def _error_message(body: bytes, secret: str) -> str:
    """`error.message` of an OpenAI-style error body, shortened and with the key removed."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    if not isinstance(message, str):
        return ""
    if secret:
        message = message.replace(secret, "***")
    return message[:200]


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def parse_balance(body: bytes, account: str, provider: str, taken_at: datetime) -> BalanceSnapshot:
    """Strict: anything we cannot trust is `MalformedResponse`, never a zero balance."""
    try:
        data = json.loads(body)  # tolerates the keep-alive blank lines before the JSON
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedResponse("response is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedResponse("response is not a JSON object")
    available = data.get("is_available")
    if not isinstance(available, bool):
        raise MalformedResponse("is_available is missing or not a boolean")
    infos = data.get("balance_infos")
    if not isinstance(infos, list):
        raise MalformedResponse("balance_infos is missing or not a list")
    balances: dict[Currency, CurrencyBalance] = {}
    for i, info in enumerate(infos):
        currency, balance = _parse_info(info, i)
        if currency in balances:
            raise MalformedResponse(f"balance_infos[{i}]: {currency} listed twice")
        balances[currency] = balance
    return BalanceSnapshot(
        account=account,
        provider=provider,
        taken_at=taken_at,
        is_available=available,
        balances=balances,
    )


def _parse_info(info: Any, index: int) -> tuple[Currency, CurrencyBalance]:
    where = f"balance_infos[{index}]"
    if not isinstance(info, dict):
        raise MalformedResponse(f"{where} is not an object")
    code = info.get("currency")
    if not isinstance(code, str) or code not in Currency.__members__:
        shown = code[:10] if isinstance(code, str) else type(code).__name__
        raise MalformedResponse(f"{where}: unknown currency {shown!r}")
    currency = Currency[code]
    amounts = [_parse_amount(info.get(name), f"{where}.{name}") for name in _AMOUNT_FIELDS]
    return currency, CurrencyBalance(*amounts)


def _parse_amount(value: Any, where: str) -> Decimal:
    if not isinstance(value, str):
        raise MalformedResponse(f"{where} is missing or not a decimal string")
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise MalformedResponse(f"{where} is not a number: {value[:20]!r}") from None
    if not amount.is_finite():
        raise MalformedResponse(f"{where} is not a finite number")
    return amount
