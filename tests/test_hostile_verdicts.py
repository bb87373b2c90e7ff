"""Issue 11 §3 end to end: a hostile answer while an alert fires neither resolves it nor
sends anything; the check is recorded as malformed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import FailureKind, TransitionKind
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

from .conftest import API_KEY
from .test_pipeline import RULES, Recorder, step

INFO = b'{"currency": "CNY", "granted_balance": "0", "topped_up_balance": "0", "total_balance": '
HOSTILE = [
    INFO + b'"1e99999999"}',
    INFO + b'"1e309"}',
    INFO + '"\u0665\u0660\u0660"}'.encode(),  # Arabic-Indic 500
    INFO + b'"1_000"}',
    INFO + b'" 500.00"}',
]


@pytest.fixture
async def daemon(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], clock: FakeClock
) -> AsyncIterator[tuple[Daemon, Recorder]]:
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=RULES,
        notifiers=[{"name": "rec", "type": "console"}],
    )
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as opened:
        yield opened, recorder


@pytest.mark.parametrize("info", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_amount_never_resolves_a_firing_alert(
    daemon: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock, info: bytes
) -> None:
    d, recorder = daemon
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    assert await step(d, clock) == [TransitionKind.FIRING]
    for body in (
        b'{"is_available": true, "balance_infos": [' + info + b"]}",
        b"\xef\xbb\xbf" + b'{"is_available": true, "balance_infos": []}',
    ):
        simulator.fail_next(Fault(body=body))
        clock.advance(300)
        outcome = await d.pipeline.check("prod")
        await d.dispatcher.deliver_due()
        assert [t.key.rule for t in outcome.transitions] in ([], ["failing"])
        assert getattr(outcome.result, "kind", None) is FailureKind.MALFORMED
    assert not any(n.kind is TransitionKind.RESOLVED for n in recorder.sent)
    assert [n.rule for n in recorder.sent] == ["low", "failing"]  # the failures, said as such
