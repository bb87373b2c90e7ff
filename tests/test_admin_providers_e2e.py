"""Venice, fal, xAI and new-api's account mode end to end: `balancebot check` as a process
and the daemon's pipeline, against their loopback fakes, with no key ever shown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import TransitionKind
from balancebot.testing.clock import FakeClock
from balancebot.testing.fakeapi import Reply
from balancebot.testing.fal import PATH as FAL_PATH
from balancebot.testing.fal import FalFake
from balancebot.testing.relay import RelayFake
from balancebot.testing.venice import PATH as VENICE_PATH
from balancebot.testing.venice import VeniceFake
from balancebot.testing.xai import PATH as XAI_PATH
from balancebot.testing.xai import XaiFake

from .test_cli import balancebot
from .test_pipeline import Recorder

KEYS = {
    "venice": "venice-admin-0123456789abcdef",
    "fal": "0b69330b-fake-4000-8000-000000000000:fal0123456789abcdef",
    "xai": "xai-management-0123456789abcdef",
    "relay": "relay-access-token-0123456789abcdef",
}


@dataclass
class Fakes:
    venice: VeniceFake
    fal: FalFake
    xai: XaiFake
    relay: RelayFake

    def accounts(self) -> list[dict[str, object]]:
        return [
            {"name": "v", "provider": "venice", "base_url": self.venice.url},
            {"name": "f", "provider": "fal", "base_url": self.fal.url},
            {
                "name": "x",
                "provider": "xai",
                "base_url": self.xai.url,
                "options": {"team_id": "team-1"},
            },
            {
                "name": "r",
                "provider": "new-api",
                "base_url": self.relay.url,
                "options": {"mode": "account", "user_id": 42},
            },
        ]


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with AsyncExitStack() as stack:
        found = Fakes(
            *[
                await stack.enter_async_context(fake)
                for fake in (VeniceFake(), FalFake(), XaiFake(), RelayFake())
            ]
        )
        found.venice.add_account(KEYS["venice"], usd=3.5)  # below the warning line
        found.fal.add_account(KEYS["fal"], balance=42.5)
        found.xai.add_account(KEYS["xai"], top_ups=[1000], spent=1000)  # empty: unavailable
        found.relay.add_account(KEYS["relay"], access=True, user_id=42, quota=5_000_000)
        yield found


RULES = [
    {
        "name": "low",
        "type": "threshold",
        "thresholds": {"USD": {"warning_below": "5", "critical_below": "1"}},
    },
    {"name": "down", "type": "unavailable"},
    {"name": "failing", "type": "check_failed", "after_failures": 1},
]


def _toml(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value) if isinstance(value, int) else f'"{value}"'


def config_text(fakes: Fakes, keys: dict[str, str]) -> str:
    text = '[store]\npath = "state.db"\n'
    for account, env in zip(fakes.accounts(), keys, strict=True):
        text += "\n[[accounts]]\n" + f'api_key = "${{{env.upper()}_KEY}}"\ntimeout = "15s"\n'
        text += "".join(f"{k} = {_toml(v)}\n" for k, v in account.items())
    for rule in RULES:
        text += "\n[[rules]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in rule.items())
    return text


def statuses(out: str) -> dict[str, str]:
    """ACCOUNT → STATUS from check's table."""
    rows = out.split("\n\n", 1)[0].splitlines()[1:]
    return {row.split()[0]: row.split()[1] for row in rows}


async def test_check_reads_each_bill_and_never_shows_a_key(fakes: Fakes, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config_text(fakes, KEYS))
    env = {f"{name.upper()}_KEY": key for name, key in KEYS.items()}
    code, out, err = await balancebot("check", "-c", str(path), cwd=tmp_path, env=env)
    assert code == 2, out + err  # xAI's empty team is critical
    assert statuses(out) == {"v": "WARNING", "f": "OK", "x": "CRITICAL", "r": "OK"}, out
    assert "v: warning: balance 3.50 USD < 5.00" in out
    assert "x: critical: account cannot make API calls" in out
    assert "r        OK        USD       10.00" in out  # 5,000,000 quota at 500,000 a USD
    fakes.fal.add_account(KEYS["fal"], admin=False)  # an API-scope key: UNKNOWN, says why
    fakes.xai.reply_next(XAI_PATH, Reply(200, {"total": {"val": 1000}}))
    code, out, err = await balancebot("check", "-c", str(path), cwd=tmp_path, env=env)
    assert statuses(out) == {"v": "WARNING", "f": "UNKNOWN", "x": "UNKNOWN", "r": "OK"}, out
    assert "needs a fal admin key" in out and "total.val" in out, out
    for key in KEYS.values():
        assert key not in out + err and key[-12:] not in out + err


@pytest.fixture
def config(fakes: Fakes, make_config: Callable[..., Config]) -> Config:
    accounts = [
        {**account, "api_key": key, "timeout": "1s"}
        for account, key in zip(fakes.accounts(), KEYS.values(), strict=True)
    ]
    return make_config(
        accounts=accounts, rules=RULES, notifiers=[{"name": "rec", "type": "console"}]
    )


async def test_the_daemon_alerts_on_each_and_garbage_never_moves_an_alert(
    fakes: Fakes, config: Config
) -> None:
    clock, recorder = FakeClock(), Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        for name in ("v", "f", "x", "r"):
            await d.pipeline.check(name)
        await d.dispatcher.deliver_due()
        assert sorted(recorder.headlines()) == [
            "CRITICAL: x xAI account cannot make API calls (is_available is false)",
            "CRITICAL: x xAI balance 0.00 USD < 1.00",
            "WARNING: v Venice balance 3.50 USD < 5.00",
        ]
        garbage = Reply(200, b'{"canConsume": true, "balances": {"usd": "9e9"}}')
        fakes.venice.reply_next(VENICE_PATH, garbage)  # malformed: not retried
        clock.advance(300)
        outcome = await d.pipeline.check("v")
        assert TransitionKind.RESOLVED not in [t.kind for t in outcome.transitions]
        assert not fakes.venice.script[VENICE_PATH]  # the garbage was read, and kept no alert
        fakes.fal.reply_next(
            FAL_PATH, Reply(403, {"detail": "This endpoint requires an Admin API key"})
        )
        outcome = await d.pipeline.check("f")
        await d.dispatcher.deliver_due()
        assert [t.kind for t in outcome.transitions] == [TransitionKind.FIRING]
        said = "\n".join(f"{n.headline}\n{n.details}" for n in recorder.sent)
        assert "needs a fal admin key" in said
        for key in KEYS.values():
            assert key not in said and key[-12:] not in said
