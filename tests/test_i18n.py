"""English and Simplified Chinese: the catalogs are complete and current, and used."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from balancebot import i18n
from balancebot.facts import AvailabilityFacts
from balancebot.models import (
    AlertKey,
    BalanceSnapshot,
    CurrencyBalance,
    Finding,
    Severity,
    Transition,
    TransitionKind,
)
from balancebot.render import notification_for
from balancebot.rules import evaluate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import catalogs  # noqa: E402 - tools/ is not a package

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture
def chinese() -> Iterator[None]:
    i18n.activate("zh")
    try:
        yield
    finally:
        i18n.activate("en")


def test_every_message_is_translated_and_compiled() -> None:
    wanted = {m.id for m in catalogs.extract() if m.id}
    for language in catalogs.LANGUAGES:
        po = catalogs.po_path(language)
        with po.open("rb") as source:
            catalog = read_po(source)
        have = {m.id: m.string for m in catalog if m.id}
        assert set(have) == wanted, "run: python tools/catalogs.py"
        for msgid, msgstr in have.items():
            forms = msgstr if isinstance(msgstr, tuple) else (msgstr,)  # plurals: a tuple
            assert all(forms), f"{language}: {msgid!r} is not translated"
            for form in forms:
                assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(str(msgid)))
        stale = catalogs.differences(po, po.with_suffix(".mo"))
        assert not stale, f"the .mo is stale ({stale[0]}): run python tools/catalogs.py"


def test_a_stale_compiled_catalog_is_found(tmp_path: Path) -> None:
    """The comparison reads what the .mo says: a changed translation or plural rule shows."""
    po = catalogs.po_path("zh")
    mo = tmp_path / "balancebot.mo"
    mo.write_bytes(catalogs.compiled(po))
    assert catalogs.differences(po, mo) == []
    text = po.read_text(encoding="utf-8")
    changed = tmp_path / "changed.po"
    changed.write_text(text.replace('msgstr "已恢复', 'msgstr "恢复了', 1), encoding="utf-8")
    [difference] = catalogs.differences(changed, mo)
    assert "恢复了" in difference
    rule = "Plural-Forms: nplurals=1; plural=0;"
    assert rule in text
    changed.write_text(
        text.replace(rule, "Plural-Forms: nplurals=2; plural=(n != 1);"), encoding="utf-8"
    )
    assert catalogs.differences(changed, mo)[0].startswith("plural forms")
    assert catalogs.differences(po, tmp_path / "none.mo") == ["none.mo is missing"]


def snapshot(total: str) -> BalanceSnapshot:
    amount = Decimal(total)
    return BalanceSnapshot(
        "prod", "deepseek", T0, True, {"CNY": CurrencyBalance(amount, Decimal(0), amount)}
    )


def test_alerts_in_chinese_keep_currency_and_two_decimals(
    chinese: None, make_config: object
) -> None:
    config = make_config(  # type: ignore[operator]
        rules=[
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
            }
        ]
    )
    result = snapshot("8.2")
    [finding] = evaluate(config.rules[0], result)
    transition = Transition(
        TransitionKind.ESCALATED,
        finding.key,
        Severity.CRITICAL,
        T0,
        T0 - timedelta(minutes=5),
        finding,
    )
    note = notification_for(transition, result, "DeepSeek", UTC)
    assert note.headline == "严重（升级）: prod DeepSeek 余额 8.20 CNY < 10.00"
    assert note.details[:2] == ("CNY：8.20（赠金 0.00，充值 8.20）", "阈值：10.00 CNY")
    resolved = Transition(
        TransitionKind.RESOLVED,
        AlertKey("prod", "low", "CNY"),
        Severity.CRITICAL,
        T0,
        T0 - timedelta(hours=2),
        Finding(AlertKey("prod", "low", "CNY"), None, None, AvailabilityFacts(available=True)),
    )
    assert notification_for(resolved, result, "DeepSeek", UTC).headline.startswith("已恢复")


def test_english_is_the_default() -> None:
    assert i18n._("RESOLVED") == "RESOLVED"


async def test_command_replies_and_digest_in_chinese(
    make_config: object, simulator: object
) -> None:
    from balancebot.commands.access import Caller
    from balancebot.daemon import Daemon
    from balancebot.testing.clock import FakeClock
    from balancebot.testing.deepseek import DeepSeekSimulator

    from .conftest import API_KEY

    assert isinstance(simulator, DeepSeekSimulator)
    simulator.add_account(API_KEY, {"USD": ("1.00", "2.50")})
    config = make_config(  # type: ignore[operator]
        language="zh",
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
    )
    me = Caller("console", "local", "console")
    try:
        async with Daemon.open(config, FakeClock(T0)) as daemon:
            balance = await daemon.commands.handle(me, "/balance")
            status = await daemon.commands.handle(me, "/status")
            usage = await daemon.commands.handle(me, "/mute")
            help_ = await daemon.commands.handle(me, "/help")
    finally:
        i18n.activate("en")
    assert balance.headline == "prod 的余额"
    assert balance.details == (
        "prod (刚刚检查):",
        "  USD：3.50（赠金 1.00，充值 2.50）",
        "  USD：历史数据尚不足（需要 6 小时），今日消费 0.00",
    )
    assert status.headline == "状态：一切正常"
    assert usage.headline == "用法：/mute <duration> [account|rule] [why]"
    assert help_.details[0] == "/balance [account] — 当前余额（若上次检查过旧则立即查询）。"


def test_counts_take_the_plural_their_language_needs(chinese: None) -> None:
    one, many = "{account}: balance over {days} day", "{account}: balance over {days} days"
    assert i18n.ngettext(one, many, 3) == "{account}：{days} 天余额"
    assert i18n.ngettext(one, many, 1, translate=False) == one
    i18n.activate("en")
    assert [i18n.ngettext(one, many, n) for n in (1, 2)] == [one, many]
    assert i18n.ngettext("{count} snapshot", "{count} snapshots", 0) == "{count} snapshots"
