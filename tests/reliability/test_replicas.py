"""Three replicas on one PostgreSQL store, as real processes, through a scripted balance
story while random replicas are SIGKILLed and restarted. Every expected notification must
arrive, in order per chat; none the platform had acknowledged before a kill may arrive
twice; no account may go unchecked for longer than two check intervals."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from balancebot.store import async_url
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import start_daemon
from balancebot.testing.telegram import FakeTelegram

from ..conftest import POSTGRES_URL, SUMMARY, _postgres_reachable, _reset_postgres
from .test_crash_restart import LEVELS, RULE, expected_headlines, received_key

pytestmark = pytest.mark.postgres

TOKEN = "4242:replicas-token"
REPLICAS = 3
ACCOUNTS = 4
CHANGES_PER_ACCOUNT = 5
HOLD = 2  # checks each level is held for
INTERVAL = 3.0  # seconds between an account's checks
KILLS = 6
SEED = 20261126


def scripts(rng: random.Random) -> list[list[str]]:
    result = []
    for _ in range(ACCOUNTS):
        levels = ["ok"]
        while len(levels) <= CHANGES_PER_ACCOUNT:
            levels.append(rng.choice([lv for lv in LEVELS if lv != levels[-1]]))
        result.append(levels)
    return result


def write_config(path: Path, simulator: DeepSeekSimulator, telegram: FakeTelegram) -> None:
    lines = [f'[store]\nurl = "{POSTGRES_URL}"\n']
    for i in range(ACCOUNTS):
        lines.append(
            f'[[accounts]]\nname = "acct{i}"\napi_key = "sk-replica-{i}"\n'
            f'base_url = "{simulator.base_url}"\ncheck_interval = "{INTERVAL}s"\n'
            f'jitter = "1ms"\ntimeout = "200ms"\n'
        )
    lines.append(
        "[[rules]]\n"
        + "\n".join(f"{k} = {json.dumps(v)}" for k, v in RULE.items() if k != "thresholds")
        + '\nthresholds = { CNY = { warning_below = "20", critical_below = "10" } }\n'
    )
    for i in range(ACCOUNTS):
        lines.append(
            f'[[notifiers]]\nname = "tg{i}"\ntype = "telegram"\nbot_token = "{TOKEN}"\n'
            f'chat_ids = [{100 + i}]\nbase_url = "{telegram.base_url}"\n'
        )
        lines.append(f'[[routes]]\nnotifiers = ["tg{i}"]\naccounts = ["acct{i}"]\n')
    path.write_text("\n".join(lines))


async def _query(sql: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_async_engine(async_url(POSTGRES_URL))
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(sa.text(sql)))
    finally:
        await engine.dispose()


async def acknowledged() -> set[str]:
    keys = set()
    for (payload,) in await _query("SELECT payload FROM outbox WHERE status = 'delivered'"):
        note = json.loads(str(payload))
        checked = next(d for d in note["details"] if d.startswith("Checked: "))
        keys.add(f"{note['headline']}|{checked}")
    return keys


async def longest_gaps() -> dict[str, timedelta]:
    """Per account, the longest time between two consecutive checks."""
    rows = await _query("SELECT account, taken_at FROM snapshots ORDER BY account, taken_at")
    gaps: dict[str, timedelta] = {}
    previous: dict[str, int] = {}
    for account, taken_at in rows:
        name, at = str(account), int(str(taken_at))
        if name in previous:
            gap = timedelta(microseconds=at - previous[name])
            gaps[name] = max(gaps.get(name, timedelta(0)), gap)
        previous[name] = at
    return gaps


async def test_replicas_killed_at_random_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    problem = await _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must be reachable in CI: {problem}")
        pytest.skip(problem)
    await _reset_postgres()
    rng = random.Random(SEED)
    plans = scripts(rng)
    expected = {f"acct{i}": expected_headlines(f"acct{i}", plan) for i, plan in enumerate(plans)}
    total_expected = sum(len(v) for v in expected.values())
    async with DeepSeekSimulator() as simulator, FakeTelegram(TOKEN) as telegram:
        for i, plan in enumerate(plans):
            telegram.add_chat(100 + i)
            script = [LEVELS[level] for level in plan for _ in range(HOLD)]
            simulator.add_account(f"sk-replica-{i}", {"CNY": ("0", str(script[0]))}, script=script)
        config = tmp_path / "config.toml"
        write_config(config, simulator, telegram)
        replicas = [await start_daemon(config) for _ in range(REPLICAS)]
        acked_before_kill: set[str] = set()
        try:
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(1.0, 3.0))  # a random moment to crash at
                victim = rng.randrange(REPLICAS)
                replicas[victim].send_signal(signal.SIGKILL)
                await replicas[victim].wait()
                SUMMARY["crashes survived"] += 1
                acked_before_kill |= await acknowledged()
                replicas[victim] = await start_daemon(config)
            await telegram.wait_sent_unique(total_expected, key=received_key, within=120)
        finally:
            for process in replicas:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in replicas:
                await asyncio.wait_for(process.wait(), 30)
        gaps = await longest_gaps()

    by_chat: dict[str, list[str]] = {}
    for message in telegram.sent:
        by_chat.setdefault(message["chat_id"], []).append(received_key(message["text"]))
    duplicated = 0
    for i in range(ACCOUNTS):
        keys = by_chat.get(str(100 + i), [])
        unique = list(dict.fromkeys(keys))
        duplicated += len(keys) - len(unique)
        assert [k.split("|")[0] for k in unique] == expected[f"acct{i}"]
        for key in {k for k in keys if keys.count(k) > 1}:
            assert key not in acked_before_kill, f"re-sent after it was acknowledged: {key}"
    longest = max(gaps.values())
    assert longest <= timedelta(seconds=2 * INTERVAL), gaps
    SUMMARY["notifications expected"] += total_expected
    SUMMARY["notifications received"] += sum(len(set(v)) for v in by_chat.values())
    SUMMARY["notifications duplicated"] += duplicated
    print(
        f"\nreplicas: {REPLICAS} replicas, {KILLS} kills, {total_expected} notifications "
        f"expected, {sum(len(set(v)) for v in by_chat.values())} received, {duplicated} "
        f"duplicated; longest gap between an account's checks {longest.total_seconds():.1f} s "
        f"(interval {INTERVAL:g} s)"
    )
