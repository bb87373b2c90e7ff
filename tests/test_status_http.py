"""The status page's JSON twin and its login, served by a running daemon against the fakes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import aiohttp

from balancebot.config import Config
from balancebot.config.status_access import hash_password
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .status_daemon import TOKEN, status_daemon


async def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text(), dict(response.headers)


async def test_json_status_of_a_running_daemon_needs_the_token(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    async with status_daemon(make_config, simulator, status_token=TOKEN) as (_daemon, base):
        url = f"{base}/api/v1/status"
        refused = await fetch(url)
        wrong = await fetch(url, {"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        wrong_query = await fetch(f"{url}?token={TOKEN[:-1]}")
        status, text, headers = await fetch(url, {"Authorization": f"Bearer {TOKEN}"})
        by_link = await fetch(f"{url}?token={TOKEN}")
        metrics = await fetch(f"{base}/metrics")  # the ops endpoints stay as they were
    assert refused[0] == wrong[0] == wrong_query[0] == 401
    assert refused[2]["WWW-Authenticate"] == "Bearer"
    assert status == by_link[0] == 200
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert metrics[0] == 200
    body = json.loads(text)
    assert body["schema"] == 1 and body["problems"] == []
    accounts = {a["name"]: a for a in body["accounts"]}
    assert list(accounts) == ["prod", "dev", "broken"]
    prod = accounts["prod"]
    assert prod["last_check"]["outcome"] == "ok"
    assert prod["balances"][0]["total"] == "8.20"
    assert prod["balances"][0]["runway"]["state"] == "estimate"
    assert prod["balances"][0]["spent_today"] not in ("", None)
    assert accounts["broken"]["last_check"]["outcome"] == "failed"
    assert accounts["broken"]["last_check"]["failure_kind"] == "auth"
    assert {c["currency"] for c in accounts["dev"]["balances"]} == {"CNY", "USD"}
    alerts = {(a["account"], a["rule"]): a for a in body["alerts"]}
    assert alerts[("prod", "low")]["severity"] == "critical"
    assert alerts[("prod", "low")]["last_sent"] is not None
    assert alerts[("broken", "failing")]["status"] == "firing"
    assert [s["comment"] for s in body["silences"]] == ["moving keys"]
    assert API_KEY not in text and TOKEN not in text


async def test_basic_auth_with_a_hashed_password(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    stored = hash_password("correct horse")

    def basic(user: str, password: str) -> dict[str, str]:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}

    async with status_daemon(
        make_config, simulator, status_user="ops", status_password_hash=stored
    ) as (_daemon, base):
        url = f"{base}/api/v1/status"
        refused = await fetch(url)
        wrong = await fetch(url, basic("ops", "correct hors"))
        other = await fetch(url, basic("root", "correct horse"))
        garbled = await fetch(url, {"Authorization": "Basic !!!"})
        good = await fetch(url, basic("ops", "correct horse"))
        again = await fetch(url, basic("ops", "correct horse"))  # remembered: no scrypt
    assert [r[0] for r in (refused, wrong, other, garbled)] == [401] * 4
    assert refused[2]["WWW-Authenticate"].startswith('Basic realm="balancebot"')
    assert good[0] == again[0] == 200
    assert stored not in good[1]
