"""The generic JSON provider over loopback: paths, auth modes, success, divisor, redirects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from balancebot.config import AccountConfig, convert
from balancebot.errors import AuthError, CheckError, ConfigError, MalformedResponse, RequestRejected
from balancebot.httpserver import LoopbackServer
from balancebot.providers.json import JsonProvider
from balancebot.testing.fakeapi import FakeAPI, Reply

from .conftest import API_KEY
from .providers_util import account, fetch

PATH = "/account/credit"


def _credit(state: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "result": {"credit": state.get("credit", "123456"), "unit": "EUR"}}


class XApiKeyFake(FakeAPI):
    """Some API that reads its key from `x-api-key`."""

    def key_of(self, request: web.Request) -> str:
        return request.headers.get("x-api-key", "")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAPI]:
    async with FakeAPI({PATH: _credit}) as server:
        server.add_account(API_KEY)
        yield server


def options(url: str, **more: Any) -> dict[str, Any]:
    return {"url": url + PATH, "balance": "result.credit", "currency": "EUR", **more}


def json_account(**given: Any) -> AccountConfig:
    return account("json", None, **given)


async def test_balance_by_path_with_divisor_and_currency_path(fake: FakeAPI) -> None:
    config = json_account(
        **options(fake.url, currency=None, currency_path="result.unit", divisor=100),
        success="success",
    )
    snapshot = await fetch(JsonProvider(), config)
    assert snapshot.balances["EUR"].total == Decimal("1234.56")
    assert snapshot.is_available and snapshot.provider == "json"


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ("bearer", "Authorization", f"Bearer {API_KEY}"),
        ("x-api-key", "x-api-key", API_KEY),
        ("header", "X-Token", API_KEY),
    ],
)
async def test_auth_modes(fake: FakeAPI, auth: str, header: str, value: str) -> None:
    fake.reply_next(PATH, Reply(200, _credit({})))
    await fetch(JsonProvider(), json_account(**options(fake.url), auth=auth, auth_header=header))
    assert fake.requests[-1][2][header] == value


async def test_no_auth_sends_no_key(fake: FakeAPI) -> None:
    fake.reply_next(PATH, Reply(200, _credit({})))
    await fetch(JsonProvider(), json_account(**options(fake.url), auth="none"))
    assert API_KEY not in str(fake.requests[-1][2])


async def test_x_api_key_fake_reads_its_header() -> None:
    async with XApiKeyFake({PATH: _credit}) as server:
        server.add_account(API_KEY)
        with pytest.raises(AuthError):
            await fetch(JsonProvider(), json_account(**options(server.url)))
        snapshot = await fetch(
            JsonProvider(), json_account(**options(server.url), auth="x-api-key")
        )
        assert snapshot.balances["EUR"].total == Decimal(123456)


@pytest.mark.parametrize(
    ("reply", "given", "raised", "says"),
    [
        (
            Reply(200, {"success": False, "message": "invalid api key"}),
            {"success": "success"},
            AuthError,
            "invalid api key",
        ),
        (Reply(200, {"success": False}), {"success": "success"}, RequestRejected, "does not hold"),
        (Reply(200, {"result": {}}), {}, MalformedResponse, "found nothing"),
        (Reply(200, {"result": {"credit": "12,5"}}), {}, MalformedResponse, "not a number"),
        (Reply(200, {"result": {"credit": "-1"}}), {}, MalformedResponse, "is negative"),
        (
            Reply(200, {"result": {"credit": "1", "unit": "euro"}}),
            {"currency": None, "currency_path": "result.unit"},
            MalformedResponse,
            "not a currency code",
        ),
        (
            Reply(200, {"result": {"credit": 1}, "ok": "yes"}),
            {"available": "ok"},
            MalformedResponse,
            "available is missing or not a boolean",
        ),
        (Reply(401, {"error": {"message": "bad key"}}), {}, AuthError, "bad key"),
    ],
)
async def test_error_shapes(
    fake: FakeAPI, reply: Reply, given: dict[str, Any], raised: type[CheckError], says: str
) -> None:
    fake.reply_next(PATH, reply)
    with pytest.raises(raised, match=says):
        await fetch(JsonProvider(), json_account(**{**options(fake.url), **given}))


async def test_negative_allowed_and_availability_from_a_path(fake: FakeAPI) -> None:
    fake.reply_next(PATH, Reply(200, {"result": {"credit": "-2.5"}, "ok": True}))
    config = json_account(**options(fake.url), negative=True, available="ok")
    snapshot = await fetch(JsonProvider(), config)
    assert snapshot.balances["EUR"].debt == Decimal("2.5") and snapshot.is_available


async def test_a_redirect_to_another_host_is_not_followed_with_the_key(fake: FakeAPI) -> None:
    elsewhere: list[dict[str, str]] = []

    async def steal(request: web.Request) -> web.Response:
        elsewhere.append(dict(request.headers))
        return web.json_response(_credit({}))

    thief = LoopbackServer()
    thief.app.router.add_get(PATH, steal)
    async with thief:
        moved = thief.url.replace("127.0.0.1", "localhost") + PATH
        fake.reply_next(PATH, Reply(302, b"", {"Location": moved}))
        with pytest.raises(RequestRejected, match="redirect"):
            await fetch(JsonProvider(), json_account(**options(fake.url)))
    assert elsewhere == []


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"currency": None}, "exactly one of currency"),
        ({"balance": "result.["}, "not a JMESPath"),
        ({"url": "ftp://x"}, "url"),
        ({"divisor": 0}, "divisor"),
        ({"auth_header": "X Token"}, "not a header name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_options_are_config_errors(given: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        convert(json_account(**{**options("https://e.com"), **given}).options, JsonProvider.Options)
