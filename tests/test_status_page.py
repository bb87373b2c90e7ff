"""The status page's HTML and SVG as pure functions: every dynamic text escaped, the
chart's marks where the data puts them, sizes that fit."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from balancebot.config import Config, ThresholdLimits
from balancebot.memory import AccountMemory
from balancebot.models import (
    AlertKey,
    AlertState,
    AlertStatus,
    BalanceSnapshot,
    CurrencyBalance,
    Severity,
    Silence,
)
from balancebot.status.chart import WIDTH, ChartData, _nice_step, _tick_label, balance_chart
from balancebot.status.document import build_status
from balancebot.status.page import PageContext, render_page
from balancebot.status.reads import Reading, StoreReads
from balancebot.status.web import StatusRoutes
from balancebot.store import Store
from balancebot.testing.clock import FakeClock

from .test_status_document import remembered

NOW = datetime(2026, 3, 11, 6, 48, tzinfo=UTC)
START = NOW - timedelta(days=30)
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<img src=x onerror="alert(1)">'


def snap(days_ago: float, total: str, account: str = "prod") -> BalanceSnapshot:
    amount = Decimal(total)
    balances = {"CNY": CurrencyBalance(amount, Decimal(0), amount)}
    return BalanceSnapshot(account, "deepseek", NOW - timedelta(days=days_ago), True, balances)


def test_the_chart_marks_thresholds_top_ups_and_failures() -> None:
    history = [snap(20, "50"), snap(15, "20"), snap(10, "120"), snap(5, "90"), snap(0, "60")]
    failed = [(NOW - timedelta(days=7), NOW - timedelta(days=6))]
    limits = {"CNY": ThresholdLimits(warning_below=Decimal(30), critical_below=Decimal(10))}
    svg = balance_chart(ChartData(history, failed, limits), "CNY", START, NOW, UTC, "prod CNY")
    root = ET.fromstring(svg)  # well-formed XML
    assert root.get("viewBox") == f"0 0 {WIDTH} 160"
    marks = {e.get("class") for e in root.iter() if e.get("class")}
    assert {"line", "warn", "crit", "topup", "failed", "grid", "now"} <= marks
    [top_up] = [e for e in root.iter(f"{SVG}path") if e.get("class") == "topup"]
    assert "+100.00 CNY" in (top_up.findtext(f"{SVG}title") or "")
    [band] = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "failed"]
    # the failures last until the next success, 5 days ago: 2 of 30 days wide
    assert abs(float(band.get("width") or 0) / (WIDTH - 42 - 6) - 2 / 30) < 0.01
    labels = [e.text for e in root.iter(f"{SVG}text")]
    assert "warning below 30.00" in labels and "critical below 10.00" in labels
    # steps: one horizontal and one vertical move per later snapshot
    d = next(e.get("d") for e in root.iter(f"{SVG}path") if e.get("class") == "line")
    assert d is not None and len(re.findall("H", d)) == 4 and len(re.findall("V", d)) == 4


def test_a_chart_without_data_or_limits_is_still_an_axis() -> None:
    svg = balance_chart(ChartData([], [], {}), "USD", START, NOW, UTC, "dev USD")
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if e.get("class") == "line"]
    assert [e.text for e in root.iter(f"{SVG}text")][-1] == "03-11"


def test_axis_steps_and_labels() -> None:
    assert [_nice_step(x) for x in (0, 0.3, 3, 23, 240, 2600)] == [1, 0.5, 5, 25, 250, 5000]
    cases = ((0, 1), (250, 50), (0.25, 0.05), (7.5, 2.5), (0.30000000000000004, 0.1))
    assert [_tick_label(v, s) for v, s in cases] == ["0", "250", "0.25", "7.5", "0.3"]
    big = [(15000, 5000), (2.5e6, 5e5), (1.25e11, 2.5e10), (4e12, 1e12)]
    assert [_tick_label(v, s) for v, s in big] == ["15k", "2.5M", "125G", "4T"]


def test_every_text_on_the_page_is_escaped(make_config: Callable[..., Config]) -> None:
    name = "<b>x</b>"  # names may hold any printable character
    config: Config = make_config(
        accounts=[{"name": name, "api_key": "sk-test-0123456789", "base_url": "http://h"}]
    )
    memory = remembered(
        config,
        {name: [snap(0, "5", name)]},
        [
            AlertState(
                AlertKey(name, "low", "CNY"),
                AlertStatus.FIRING,
                Severity.CRITICAL,
                started_at=NOW,
            )
        ],
    )
    silence = Silence(1, name, None, NOW + timedelta(hours=1), HOSTILE, NOW, HOSTILE)
    document = build_status(config, memory, [silence], NOW)
    charts = {name: ChartData([snap(0, "5", name)], [], {})}
    context = PageContext(UTC, {name: HOSTILE}, charts, START, token='"><script>')
    page = render_page(document, [HOSTILE], context)
    assert "<script" not in page and "<img" not in page and "<b>x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert 'href="api/v1/status?token=%22%3E%3Cscript%3E"' in page
    assert '<meta http-equiv="refresh" content="60">' in page


async def test_charts_are_read_once_per_check_and_on_by_later_reloads(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    names = ["a", "b", "c"]
    config: Config = make_config(
        accounts=[
            {"name": n, "api_key": "sk-test-0123456789", "base_url": "http://h"} for n in names
        ]
    )
    store = await Store.open(config.store.database_url)
    try:
        memory = AccountMemory(config)
        for name in names:
            for days in (3, 2, 1):
                await store.save_check(snap(days, "50", name))
            memory.record(snap(1, "50", name), [], [])
        reads = StoreReads(config, memory, store)
        loop = asyncio.get_running_loop()

        async def page(seconds: float) -> tuple[list[str], int]:
            reading = Reading(reads, loop.time() + seconds)
            charts = await reading.charts(names, START, NOW)
            assert not reading.problems
            return sorted(charts), reading.charts_missing

        assert await page(-1) == ([], 3)  # past the deadline: none read, all said late
        drawn, late = await page(30)
        assert (drawn, late) == (names, 0)
        assert await page(-1) == (names, 0)  # kept: no read needed
        memory.record(snap(0, "40", "b"), [], [])  # b checked again: its chart is read anew
        assert await page(-1) == (["a", "c"], 1)
        assert await page(30) == (names, 0)
    finally:
        await store.close()


async def test_with_the_store_gone_the_page_shows_what_memory_holds(
    make_config: Callable[..., Config],
) -> None:
    config: Config = make_config(http={"enabled": True, "status_page": True})
    store = await Store.open(config.store.database_url)
    memory = AccountMemory(config)
    memory.record(snap(0, "42.5"), [], [])
    routes = StatusRoutes(config, memory, store, FakeClock(NOW))
    await store.close()
    path = config.store.path
    path.unlink()
    path.mkdir()  # a reconnect finds a directory: every read now fails
    document, reading = await routes.document()
    assert reading.problems and reading.problems[0].startswith("store: ")
    assert document.accounts[0].balances[0].total == Decimal("42.5")
    charts = await reading.charts(["prod"], START, NOW)
    assert charts == {} and reading.charts_missing == 1
    context = PageContext(UTC, {}, charts, START, None, reading.charts_missing)
    page = render_page(document, reading.problems, context)
    assert "Could not read the store (store: " in page and "42.50" in page
    assert "The chart of 1 account is still being read" in page
