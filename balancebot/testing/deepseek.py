"""A local DeepSeek balance API: real HTTP on loopback, the wire format of the real one.

Used by `balancebot demo` and as the fake server of the tests. Balances can drain with
each request and be topped up after a number of requests; scripted faults (error statuses,
hangs, keep-alive blank lines, arbitrary bodies) are queued per request.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from ..httpserver import LoopbackServer

CURRENCIES = ("CNY", "USD")


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    """DeepSeek's OpenAI-style error envelope."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("Invalid request format", "invalid_request_error"),
    401: ("Authentication Fails (invalid api key)", "authentication_error"),
    402: ("Insufficient Balance", "invalid_request_error"),
    422: ("Invalid Parameters", "invalid_request_error"),
    429: ("Rate limit reached for requests", "rate_limit_error"),
    500: ("Server error", "server_error"),
    503: ("Server overloaded, please try again later", "server_error"),
}


@dataclass
class Fault:
    """What the next request gets instead of the account's balance."""

    status: int = 200
    body: bytes | None = None  # None: the documented error body for `status`
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the client gives up)
    keepalive_lines: int = 0  # blank lines sent before the real answer
    line_interval: float = 0.0  # seconds between those blank lines
    reset_after: int | None = None  # drop the connection after this many body bytes


@dataclass
class SimulatedAccount:
    granted: dict[str, Decimal]
    topped_up: dict[str, Decimal]
    drain_per_request: Decimal = Decimal(0)
    top_up_after: int | None = None
    top_up_amount: Decimal = Decimal(0)
    requests: int = 0
    available_override: bool | None = None
    script: list[Decimal] | None = None  # CNY topped-up balance for request n (then the last)

    def total(self, currency: str) -> Decimal:
        return self.granted[currency] + self.topped_up[currency]

    def body(self) -> dict[str, Any]:
        currencies = [c for c in CURRENCIES if c in self.granted]
        available = (
            self.available_override
            if self.available_override is not None
            else any(self.total(c) > 0 for c in currencies)
        )
        return {
            "is_available": available,
            "balance_infos": [
                {
                    "currency": c,
                    "total_balance": f"{self.total(c):.2f}",
                    "granted_balance": f"{self.granted[c]:.2f}",
                    "topped_up_balance": f"{self.topped_up[c]:.2f}",
                }
                for c in currencies
            ],
        }

    def after_request(self) -> None:
        """Spend granted credit first, as DeepSeek does; top up on schedule."""
        self.requests += 1
        if self.script:
            self.granted["CNY"] = Decimal(0)
            self.topped_up["CNY"] = self.script[min(self.requests, len(self.script) - 1)]
            return
        for currency in self.granted:
            spend = min(self.drain_per_request, self.total(currency))
            from_granted = min(spend, self.granted[currency])
            self.granted[currency] -= from_granted
            self.topped_up[currency] -= spend - from_granted
        if self.top_up_after is not None and self.requests == self.top_up_after:
            for currency in self.topped_up:
                self.topped_up[currency] += self.top_up_amount


class DeepSeekSimulator(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_get("/user/balance", self._balance)
        self.accounts: dict[str, SimulatedAccount] = {}
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, str]] = []
        self._release = asyncio.Event()

    def add_account(
        self,
        api_key: str,
        balances: dict[str, tuple[str, str]] | None = None,
        **behaviour: Any,
    ) -> SimulatedAccount:
        """`balances` maps a currency to (granted, topped_up)."""
        balances = {"CNY": ("10.00", "100.00")} if balances is None else balances
        account = SimulatedAccount(
            granted={c: Decimal(g) for c, (g, _) in balances.items()},
            topped_up={c: Decimal(t) for c, (_, t) in balances.items()},
            **behaviour,
        )
        self.accounts[api_key] = account
        return account

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    @property
    def base_url(self) -> str:
        return self.url

    async def stop(self) -> None:
        self._release.set()  # let hanging handlers finish
        await super().stop()

    async def _balance(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        self.requests.append({"authorization": auth, "accept": request.headers.get("Accept", "")})
        fault = self.faults.popleft() if self.faults else None
        if fault is not None and fault.hang:
            await self._release.wait()
            return web.Response(status=503)
        account = (
            self.accounts.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        )
        if fault is not None:
            status, body = fault.status, fault.body
            if body is None:
                body = self._error(status) if status >= 400 else self._account_body(account)
            headers = fault.headers
        elif account is None:
            status, body, headers = 401, self._error(401), {}
        else:
            status, body, headers = 200, json.dumps(account.body()).encode(), {}
            account.after_request()
        if fault is not None and fault.reset_after == 0 and request.transport is not None:
            request.transport.abort()  # reset before any response
            return web.Response(status=500)
        response = web.StreamResponse(
            status=status, headers={"Content-Type": "application/json", **headers}
        )
        if fault is not None and fault.reset_after is not None:
            response.content_length = len(body)  # promise the whole body, send part of it
        try:
            await response.prepare(request)
            for _ in range(fault.keepalive_lines if fault else 0):
                await response.write(b"\n")
                await asyncio.sleep(fault.line_interval if fault else 0)
            if fault is not None and fault.reset_after is not None and request.transport:
                await response.write(body[: fault.reset_after])
                request.transport.abort()
                return response
            await response.write(body)
            await response.write_eof()
        except ConnectionError:  # the client gave up (its deadline passed): nothing to tell
            pass
        return response

    @staticmethod
    def _error(status: int) -> bytes:
        message, type_ = STATUS_ERRORS.get(status, ("Unexpected error", "server_error"))
        return json.dumps(error_body(message, type_)).encode()

    def _account_body(self, account: SimulatedAccount | None) -> bytes:
        return json.dumps(
            account.body() if account else {"is_available": True, "balance_infos": []}
        ).encode()


async def serve(accounts: int, port: int) -> None:
    """Run the simulator alone (benchmarks put it in a process of its own)."""
    simulator = DeepSeekSimulator()
    for i in range(accounts):
        simulator.add_account(f"sk-sim-{i}", {"CNY": ("10.00", "100.00")})
    await simulator.start(port=port)
    print(f"READY {simulator.base_url}", flush=True)
    await asyncio.Event().wait()  # until the process is stopped


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="a local DeepSeek balance API")
    parser.add_argument("--accounts", type=int, default=1, help="keys sk-sim-0 ... sk-sim-N-1")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    asyncio.run(serve(options.accounts, options.port))
