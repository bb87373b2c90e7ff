"""The daemon as a real subprocess, killed with SIGKILL at seeded random moments while a
scripted sequence of balance changes drives alert transitions, and restarted on the same
store. Every expected notification must arrive; none may arrive again after the outbox
had marked it delivered; no alert may fire early because of a restart."""

from __future__ import annotations

import asyncio
import html
import json
import random
import signal
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.alerts import Policy, advance
from balancebot.configure import parse_config
from balancebot.models import AlertKey, AlertState, BalanceSnapshot, CurrencyBalance
from balancebot.phrases import describe
from balancebot.rules import evaluate
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import start_daemon
from balancebot.testing.telegram import FakeTelegram

from ..conftest import SUMMARY

pytestmark = pytest.mark.slow

TOKEN = "4242:crash-restart-token"
ACCOUNTS = 5
CHANGES_PER_ACCOUNT = 10  # 50 balance changes in all
HOLD = 4  # requests each level is held for: a kill loses at most one of them
LEVELS = {"ok": Decimal("100.00"), "warning": Decimal("15.00"), "critical": Decimal("5.00")}
KILLS = 10
SEED = 20261125

RULE = {
    "name": "low",
    "type": "threshold",
    "repeat_interval": "1h",
    "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
}


def scripts(rng: random.Random) -> list[list[str]]:
    """Per account, a sequence of levels, each different from the one before."""
    result = []
    for _ in range(ACCOUNTS):
        levels = ["ok"]
        while len(levels) <= CHANGES_PER_ACCOUNT:
            levels.append(rng.choice([lv for lv in LEVELS if lv != levels[-1]]))
        result.append(levels)
    return result


def expected_headlines(account: str, levels: list[str]) -> list[str]:
    """What the pure state machine says this sequence must announce, in order."""
    rule = parse_config(
        {"accounts": [{"name": account, "api_key": "k"}], "rules": [RULE]}, Path("."), env={}
    ).rules[0]
    state, now, out = (
        AlertState(AlertKey(account, "low", "CNY")),
        datetime(2026, 1, 1, tzinfo=UTC),
        [],
    )
    recent: tuple[BalanceSnapshot, ...] = ()
    for level in levels:
        now += timedelta(seconds=1)
        total = LEVELS[level]
        snapshot = BalanceSnapshot(
            account,
            "deepseek",
            now,
            True,
            {"CNY": CurrencyBalance(total, Decimal(0), total)},
        )
        recent = (*recent[-1:], snapshot)  # a resolved notice says what was topped up
        for finding in evaluate(rule, snapshot, recent):
            state, transition = advance(
                state, finding, now, Policy(repeat_interval=timedelta(hours=1))
            )
            if transition is not None:
                label = {
                    "firing": transition.severity.name,
                    "escalated": f"{transition.severity.name} (escalated)",
                    "resolved": "RESOLVED",
                }[transition.kind.value]
                out.append(f"{label}: {account} DeepSeek {describe(finding.facts, UTC)}")
    return out


def config_text(
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    *,
    store: str,
    keys: str,
    accounts: int,
    token: str,
    interval: str,
    timeout: str,
) -> str:
    """Accounts acct0.. (keys `keys`0..) on the simulator, RULE, and a Telegram chat each."""
    lines = [store]
    for i in range(accounts):
        lines.append(
            f'[[accounts]]\nname = "acct{i}"\napi_key = "{keys}{i}"\n'
            f'base_url = "{simulator.base_url}"\ncheck_interval = "{interval}"\n'
            f'jitter = "1ms"\ntimeout = "{timeout}"\n'
        )
    lines.append(
        "[[rules]]\n"
        + "\n".join(f"{k} = {json.dumps(v)}" for k, v in RULE.items() if k != "thresholds")
        + '\nthresholds = { CNY = { warning_below = "20", critical_below = "10" } }\n'
    )
    for i in range(accounts):
        lines.append(
            f'[[notifiers]]\nname = "tg{i}"\ntype = "telegram"\nbot_token = "{token}"\n'
            f'chat_ids = [{100 + i}]\nbase_url = "{telegram.base_url}"\n'
        )
        lines.append(f'[[routes]]\nnotifiers = ["tg{i}"]\naccounts = ["acct{i}"]\n')
    return "\n".join(lines)


def write_config(path: Path, simulator: DeepSeekSimulator, telegram: FakeTelegram) -> None:
    path.write_text(
        config_text(
            simulator,
            telegram,
            store='[store]\npath = "state.db"\n',
            keys="sk-crash-",
            accounts=ACCOUNTS,
            token=TOKEN,
            interval="1s",
            timeout="2s",
        )
    )


def acknowledged(store: Path) -> set[str]:
    """Texts of the rows the outbox had marked delivered: the platform had accepted them."""
    with sqlite3.connect(store) as db:
        rows = db.execute(DELIVERED).fetchall()
    return delivered_keys(str(payload) for (payload,) in rows)


DELIVERED = "SELECT payload FROM outbox WHERE status = 'delivered'"


def delivered_keys(payloads: Iterable[str]) -> set[str]:
    """Each delivered alert notice as `received_key` names what a chat received."""
    keys = set()
    for payload in payloads:
        note = json.loads(payload)
        checked = [d for d in note["details"] if d.startswith("Checked: ")]
        assert checked, f"an alert notice says when it was checked: {note}"
        keys.add(f"{note['headline']}|{checked[0]}")
    return keys


class Acknowledged:
    """Alert notices the outbox had marked delivered at a kill, each with how many copies
    its chat had received by then. Copies before the acknowledgement are at-least-once
    delivery (a process killed between the platform's answer and its own record of it, or
    a target taken over from it, sends again); a copy after it is a duplicate."""

    def __init__(self) -> None:
        self.copies: dict[str, int] = {}

    def note(self, delivered: set[str], received: list[str]) -> None:
        for key in delivered - self.copies.keys():
            self.copies[key] = received.count(key)
            assert self.copies[key], f"marked delivered, never received: {key}"

    def resent(self, received: list[str]) -> list[str]:
        """The notices received again after they were acknowledged."""
        return [key for key, copies in self.copies.items() if received.count(key) > copies]


def received_key(text: str) -> str:
    lines = html.unescape(text).splitlines()
    headline = lines[0].split(" ", 1)[1].removeprefix("<b>").removesuffix("</b>")
    checked = next(line for line in lines if line.startswith("Checked: "))
    return f"{headline}|{checked}"


async def test_sigkill_and_restart_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    plans = scripts(rng)
    expected = {
        f"acct{i}": expected_headlines(f"acct{i}", levels) for i, levels in enumerate(plans)
    }
    async with DeepSeekSimulator() as simulator, FakeTelegram(TOKEN) as telegram:
        for i, levels in enumerate(plans):
            telegram.add_chat(100 + i)
            script = [LEVELS[level] for level in levels for _ in range(HOLD)]
            simulator.add_account(f"sk-crash-{i}", {"CNY": ("0", str(script[0]))}, script=script)
        config = tmp_path / "config.toml"
        write_config(config, simulator, telegram)
        acked = Acknowledged()
        for _ in range(KILLS):
            process = await start_daemon(config)
            await asyncio.sleep(rng.uniform(0.3, 1.5))  # a random moment to crash at
            process.send_signal(signal.SIGKILL)
            await process.wait()
            SUMMARY["crashes survived"] += 1
            received = [received_key(m["text"]) for m in telegram.sent]
            acked.note(acknowledged(tmp_path / "state.db"), received)
        total_expected = sum(len(v) for v in expected.values())
        process = await start_daemon(config)
        try:
            await telegram.wait_sent_unique(total_expected, key=received_key, within=120)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)

    by_chat: dict[str, list[str]] = {}
    for message in telegram.sent:
        by_chat.setdefault(message["chat_id"], []).append(received_key(message["text"]))
    duplicated = 0
    for i in range(ACCOUNTS):
        keys = by_chat.get(str(100 + i), [])
        unique = list(dict.fromkeys(keys))
        duplicated += len(keys) - len(unique)
        assert [k.split("|")[0] for k in unique] == expected[f"acct{i}"]
    assert acked.resent([received_key(m["text"]) for m in telegram.sent]) == []
    assert acked.copies, "no delivery was acknowledged before a kill: the test proves little"
    SUMMARY["notifications expected"] += total_expected
    SUMMARY["notifications received"] += sum(len(set(v)) for v in by_chat.values())
    SUMMARY["notifications duplicated"] += duplicated
    print(
        f"\ncrash-restart: {KILLS} kills, {total_expected} notifications expected, "
        f"{sum(len(set(v)) for v in by_chat.values())} received, {duplicated} duplicated"
    )
    assert all(a.requests >= CHANGES_PER_ACCOUNT * HOLD for a in simulator.accounts.values())
