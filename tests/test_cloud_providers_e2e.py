"""The cloud billing providers end to end: `balancebot check` as a process and the
daemon's pipeline, against loopback fakes that verify every signature with the known
secret and their own clock; neither secret is ever shown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.configure import config_secrets
from balancebot.daemon import Daemon
from balancebot.models import TransitionKind
from balancebot.testing.aliyun import PATH as ALIYUN_PATH
from balancebot.testing.aliyun import AliyunFake
from balancebot.testing.clock import FakeClock
from balancebot.testing.fakeapi import Reply
from balancebot.testing.signedcloud import SignedCloudFake
from balancebot.testing.tencentcloud import PATH as TENCENT_PATH
from balancebot.testing.tencentcloud import TencentCloudFake
from balancebot.testing.volcengine import PATH as VOLC_PATH
from balancebot.testing.volcengine import VolcengineFake

from .test_cli import balancebot
from .test_pipeline import Recorder

# provider → (option naming the key id, key id, secret)
KEYS = {
    "tencentcloud": ("secret_id", "AKIDe2e0123456789abcdef", "tencent-secret-0123456789abcdef"),
    "aliyun": ("access_key_id", "LTAIe2e0123456789abcdef", "aliyun-secret-0123456789abcdef"),
    "volcengine": ("access_key_id", "AKLTe2e0123456789abcdef", "volc-secret-0123456789abcdef=="),
}
BALANCES = {
    "tencentcloud": {"fen": 4_000},
    "aliyun": {"available": "8.50"},
    "volcengine": {"available": "880.00"},
}
GARBAGE = {
    "tencentcloud": (TENCENT_PATH, b'{"Response": {"Balance": "4000"}}'),
    "aliyun": (ALIYUN_PATH, b'{"Success": true, "Data": {"AvailableAmount": 9e9}}'),
    "volcengine": (VOLC_PATH, b'{"Result": {"AvailableBalance": "1,000.00"}}'),
}
RULES = [
    {
        "name": "low",
        "type": "threshold",
        "thresholds": {"CNY": {"warning_below": "50", "critical_below": "10"}},
    },
    {"name": "failing", "type": "check_failed", "after_failures": 1},
]


def _fakes(now: Callable[[], Any] | None) -> dict[str, SignedCloudFake]:
    return {
        "tencentcloud": TencentCloudFake(now=now),
        "aliyun": AliyunFake(now=now),
        "volcengine": VolcengineFake(now=now),
    }


async def _started(stack: AsyncExitStack, now: Callable[[], Any] | None) -> dict[str, Any]:
    fakes = {name: await stack.enter_async_context(f) for name, f in _fakes(now).items()}
    for provider, (_, key_id, secret) in KEYS.items():
        fakes[provider].add_account(key_id, secret=secret, **BALANCES[provider])
    return fakes


def _accounts(fakes: dict[str, SignedCloudFake]) -> list[dict[str, Any]]:
    return [
        {
            "name": provider,
            "provider": provider,
            "base_url": fakes[provider].url,
            "options": {option: key_id},
            "api_key": secret,
        }
        for provider, (option, key_id, secret) in KEYS.items()
    ]


def _secrets() -> list[str]:
    return [part for _, key_id, secret in KEYS.values() for part in (key_id, secret)]


def config_text(fakes: dict[str, SignedCloudFake]) -> str:
    text = '[store]\npath = "state.db"\n'
    for account in _accounts(fakes):
        env = account["provider"].upper()
        option = next(iter(account["options"]))
        text += (
            f'\n[[accounts]]\nname = "{account["name"]}"\nprovider = "{account["provider"]}"\n'
            f'base_url = "{account["base_url"]}"\ntimeout = "15s"\n'
            f'api_key = "${{{env}_SECRET}}"\noptions = {{ {option} = "${{{env}_ID}}" }}\n'
        )
    text += (
        '\n[[rules]]\nname = "low"\ntype = "threshold"\n'
        '[rules.thresholds.CNY]\nwarning_below = "50"\ncritical_below = "10"\n'
    )
    return text


def statuses(out: str) -> dict[str, str]:
    rows = out.split("\n\n", 1)[0].splitlines()[1:]
    return {row.split()[0]: row.split()[1] for row in rows}


async def test_check_signs_each_request_and_says_what_is_wrong(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        fakes = await _started(stack, None)  # their real clocks: check signs with the machine's
        path = tmp_path / "c.toml"
        path.write_text(config_text(fakes))
        env = {}
        for provider, (_, key_id, secret) in KEYS.items():
            env[f"{provider.upper()}_ID"], env[f"{provider.upper()}_SECRET"] = key_id, secret
        code, out, err = await balancebot("check", "-c", str(path), cwd=tmp_path, env=env)
        assert code == 2, out + err
        assert statuses(out) == {
            "tencentcloud": "WARNING",
            "aliyun": "CRITICAL",
            "volcengine": "OK",
        }, out
        assert "tencentcloud: warning: balance 40.00 CNY < 50.00" in out
        assert "aliyun: critical: balance 8.50 CNY < 10.00" in out
        assert "volcengine    OK        CNY       880.00" in out, out

        for fake in fakes.values():  # the server's clock 16 minutes ahead
            fake.skew = timedelta(minutes=16)
        code, out, err = await balancebot("check", "-c", str(path), cwd=tmp_path, env=env)
        assert statuses(out) == {p: "UNKNOWN" for p in KEYS}, out
        assert out.count("the machine's clock is off by about 16 min (behind") == len(KEYS), out

        for provider, fake in fakes.items():  # the right time, a wrong secret
            fake.skew = timedelta(0)
            fake.accounts[KEYS[provider][1]]["secret"] = "not-the-secret-0123456789"
        code, out, err = await balancebot("check", "-c", str(path), cwd=tmp_path, env=env)
        assert statuses(out) == {p: "UNKNOWN" for p in KEYS}, out
        assert out.count("check the access key secret (api_key)") == len(KEYS), out
        for secret in _secrets():
            assert secret not in out + err and secret[-12:] not in out + err


@pytest.fixture
async def clouds() -> AsyncIterator[tuple[FakeClock, dict[str, Any]]]:
    clock = FakeClock()
    async with AsyncExitStack() as stack:
        yield clock, await _started(stack, clock.now)


async def test_the_daemon_alerts_and_garbage_never_moves_an_alert(
    clouds: tuple[FakeClock, dict[str, SignedCloudFake]], make_config: Callable[..., Config]
) -> None:
    clock, fakes = clouds
    config = make_config(
        accounts=[{**a, "timeout": "1s"} for a in _accounts(fakes)],
        rules=RULES,
        notifiers=[{"name": "rec", "type": "console"}],
    )
    assert set(_secrets()) <= config_secrets(config)  # the log mask holds both of each pair
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        for provider in KEYS:
            await d.pipeline.check(provider)
        await d.dispatcher.deliver_due()
        assert sorted(recorder.headlines()) == [
            "CRITICAL: aliyun Alibaba Cloud balance 8.50 CNY < 10.00",
            "WARNING: tencentcloud Tencent Cloud balance 40.00 CNY < 50.00",
        ]
        for provider, (path, body) in GARBAGE.items():
            fakes[provider].reply_next(path, Reply(200, body))
            clock.advance(300)
            outcome = await d.pipeline.check(provider)
            assert TransitionKind.RESOLVED not in [t.kind for t in outcome.transitions]
            assert not fakes[provider].script[path]
        for provider, fake in fakes.items():
            fake.accounts[KEYS[provider][1]]["secret"] = "not-the-secret-0123456789"
            clock.advance(300)
            outcome = await d.pipeline.check(provider)
            kinds = [t.kind for t in outcome.transitions]  # the garbage already fired it
            assert kinds == [TransitionKind.ESCALATED], kinds
        await d.dispatcher.deliver_due()
        said = "\n".join(f"{n.headline}\n{n.details}" for n in recorder.sent)
        headlines = "\n".join(recorder.headlines())
        assert headlines.count("check the access key secret") == len(KEYS), headlines
        for secret in _secrets():
            assert secret not in said and secret[-12:] not in said
