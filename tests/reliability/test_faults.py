"""The fault matrix: every scripted failure of the DeepSeek, Telegram and Slack fakes,
run through the real daemon components, with the outcome each must have."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import CheckFailure, FailureKind, TransitionKind
from balancebot.providers.engine import MAX_BODY_BYTES
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.slack import FakeSlack, SlackFault
from balancebot.testing.telegram import FakeTelegram, TelegramFault

from ..conftest import API_KEY, SUMMARY
from ..test_pipeline import Recorder


@dataclass(frozen=True)
class Case:
    name: str
    fault: Fault | None  # None: nothing listens at the base URL
    kind: FailureKind
    retried: bool
    alert: bool = False  # the check_failed rule fires at once (authentication)


GOOD = {
    "currency": "CNY",
    "total_balance": "1.00",
    "granted_balance": "0.00",
    "topped_up_balance": "1.00",
}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


DEEPSEEK_CASES = [
    Case("refused connection", None, FailureKind.UNAVAILABLE, retried=True),
    Case("reset before the response", Fault(reset_after=0), FailureKind.UNAVAILABLE, True),
    Case("reset mid-body", Fault(reset_after=20), FailureKind.UNAVAILABLE, True),
    Case("hang past the timeout", Fault(hang=True), FailureKind.TIMEOUT, True),
    Case(
        "slow drip past the deadline",
        Fault(keepalive_lines=40, line_interval=0.05),
        FailureKind.TIMEOUT,
        True,
    ),
    Case(
        "429 with retry-after",
        Fault(status=429, headers={"Retry-After": "2"}),
        FailureKind.RATE_LIMITED,
        True,
    ),
    Case(
        "429 with a retry-after past the cap",
        Fault(status=429, headers={"Retry-After": "600"}),
        FailureKind.RATE_LIMITED,
        False,
    ),
    Case("429 without retry-after", Fault(status=429), FailureKind.RATE_LIMITED, True),
    Case("500", Fault(status=500), FailureKind.UNAVAILABLE, True),
    Case(
        "502 HTML error page",
        Fault(status=502, body=b"<html><h1>502</h1></html>"),
        FailureKind.UNAVAILABLE,
        True,
    ),
    Case("503", Fault(status=503), FailureKind.UNAVAILABLE, True),
    Case(
        "HTML page with 200",
        Fault(body=b"<!doctype html><p>maintenance</p>"),
        FailureKind.MALFORMED,
        False,
    ),
    Case(
        "truncated JSON",
        Fault(body=b'{"is_available": true, "balance_infos": [{"curr'),
        FailureKind.MALFORMED,
        False,
    ),
    Case(
        "wrong type: is_available",
        Fault(body=body({"is_available": 1, "balance_infos": []})),
        FailureKind.MALFORMED,
        False,
    ),
    Case(
        "wrong type: amount",
        Fault(body=body({"is_available": True, "balance_infos": [{**GOOD, "total_balance": 1}]})),
        FailureKind.MALFORMED,
        False,
    ),
    Case(
        "wrong type: balance_infos",
        Fault(body=body({"is_available": True, "balance_infos": "CNY 1.00"})),
        FailureKind.MALFORMED,
        False,
    ),
    Case(
        "huge body",
        Fault(body=b'{"pad": "' + b"x" * (4 * MAX_BODY_BYTES) + b'"}'),
        FailureKind.MALFORMED,
        False,
    ),
    Case("401", Fault(status=401), FailureKind.AUTH, False, alert=True),
    Case("403", Fault(status=403), FailureKind.AUTH, False, alert=True),
    Case("400", Fault(status=400), FailureKind.REJECTED, False),
    Case("422", Fault(status=422), FailureKind.REJECTED, False),
]


@pytest.fixture
def fault_config(make_config: Callable[..., Config], simulator: DeepSeekSimulator) -> Config:
    return make_config(
        accounts=[
            {"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url, "timeout": "1s"},
            {"name": "gone", "api_key": API_KEY, "base_url": "http://127.0.0.1:9", "timeout": "1s"},
        ],
        rules=[
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"CNY": {"warning_below": "50", "critical_below": "10"}},
            },
            {"name": "down", "type": "unavailable"},
            {"name": "failing", "type": "check_failed", "after_failures": 3},
        ],
        notifiers=[{"name": "rec", "type": "console"}],
    )


@pytest.fixture
async def daemon(fault_config: Config, clock: FakeClock) -> AsyncIterator[tuple[Daemon, Recorder]]:
    recorder = Recorder()
    async with Daemon.open(fault_config, clock, {"rec": recorder}) as opened:
        yield opened, recorder


@pytest.mark.parametrize("case", DEEPSEEK_CASES, ids=lambda c: c.name)
async def test_deepseek_fault_matrix(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock, case: Case
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})  # critical, if it were believed
    if case.fault is not None:
        simulator.fail_next(*[case.fault] * 3)
    before = len(clock.slept)
    outcome = await d.pipeline.check("prod" if case.fault is not None else "gone")
    await d.dispatcher.deliver_due()
    SUMMARY["fault cases tried"] += 1

    assert isinstance(outcome.result, CheckFailure)
    assert outcome.result.kind is case.kind
    assert (len(clock.slept) > before) is case.retried
    assert API_KEY not in outcome.result.message
    kinds = [(n.rule, n.kind) for n in recorder.sent]
    assert kinds == ([("failing", TransitionKind.FIRING)] if case.alert else [])
    assert not any(n.rule in ("low", "down") for n in recorder.sent)  # never from garbage


@dataclass(frozen=True)
class DeliveryCase:
    name: str
    platform: str
    fault: TelegramFault | SlackFault
    permanent: bool
    retry_after: float | None = None


DELIVERY_CASES = [
    DeliveryCase(
        "telegram 429 retry_after",
        "telegram",
        TelegramFault(429, "Too Many Requests: retry after 5", {"retry_after": 5}),
        False,
        5.0,
    ),
    DeliveryCase("telegram 500", "telegram", TelegramFault(500, "Internal Server Error"), False),
    DeliveryCase("telegram 502", "telegram", TelegramFault(502, "Bad Gateway"), False),
    DeliveryCase("telegram 401 bad token", "telegram", TelegramFault(401, "Unauthorized"), True),
    DeliveryCase(
        "telegram 403 blocked",
        "telegram",
        TelegramFault(403, "Forbidden: bot was blocked by the user"),
        True,
    ),
    DeliveryCase(
        "telegram 400 chat not found",
        "telegram",
        TelegramFault(400, "Bad Request: chat not found"),
        True,
    ),
    DeliveryCase(
        "telegram 409 conflict",
        "telegram",
        TelegramFault(409, "Conflict: terminated by other getUpdates request"),
        True,
    ),
    DeliveryCase(
        "slack 429 with Retry-After",
        "slack",
        SlackFault("ratelimited", 429, {"Retry-After": "7"}),
        False,
        7.0,
    ),
    DeliveryCase("slack 429 without Retry-After", "slack", SlackFault("ratelimited", 429), False),
    DeliveryCase("slack 500", "slack", SlackFault("internal_error", 500), False),
    DeliveryCase("slack 503", "slack", SlackFault("service_unavailable", 503), False),
    DeliveryCase("slack fatal_error", "slack", SlackFault("fatal_error"), False),
    DeliveryCase("slack invalid_auth", "slack", SlackFault("invalid_auth"), True),
    DeliveryCase("slack channel_not_found", "slack", SlackFault("channel_not_found"), True),
    DeliveryCase("slack not_in_channel", "slack", SlackFault("not_in_channel"), True),
    DeliveryCase("slack is_archived", "slack", SlackFault("is_archived"), True),
]


@pytest.mark.parametrize("case", DELIVERY_CASES, ids=lambda c: c.name)
async def test_delivery_fault_matrix(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    case: DeliveryCase,
) -> None:
    token, slack_token = "555:fault-matrix-token", "xoxb-fault-matrix"
    async with FakeTelegram(token, clock) as telegram, FakeSlack(slack_token, clock) as slack:
        telegram.add_chat(42)
        slack.channels.add("C1")
        config = make_config(
            accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
            rules=[
                {
                    "name": "low",
                    "type": "threshold",
                    "thresholds": {"CNY": {"critical_below": "10"}},
                }
            ],
            notifiers=[
                {
                    "name": "tg",
                    "type": "telegram",
                    "bot_token": token,
                    "chat_ids": [42],
                    "base_url": telegram.base_url,
                },
                {
                    "name": "sl",
                    "type": "slack",
                    "bot_token": slack_token,
                    "channels": ["C1"],
                    "base_url": slack.api_url,
                },
            ],
            routes=[{"notifiers": ["tg" if case.platform == "telegram" else "sl"]}],
        )
        simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
        (telegram.faults if case.platform == "telegram" else slack.faults).append(case.fault)  # type: ignore[arg-type]
        async with Daemon.open(config, clock) as d:
            await d.pipeline.check("prod")
            assert await d.dispatcher.deliver_due() == 0
            SUMMARY["fault cases tried"] += 1
            assert bool(d.dispatcher.problems) is case.permanent
            clock.advance(case.retry_after or 60)
            delivered = await d.dispatcher.deliver_due()
        received = len(telegram.sent) + len(slack.posted)
        assert (delivered, received) == ((0, 0) if case.permanent else (1, 1))
        assert token not in str(d.dispatcher.problems)
