"""Balance charts: the PNG itself, /history on Telegram and Slack, and the CLI."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import sys
import zoneinfo
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from balancebot import charts
from balancebot.charts import CHART_POINTS, ChartsUnavailable, NoHistory, plot_history
from balancebot.cli.history import history_table, load_history
from balancebot.config import Config
from balancebot.configure import load_config
from balancebot.daemon import Daemon
from balancebot.errors import StoreError
from balancebot.frontends import FrontEndState
from balancebot.models import BalanceSnapshot, CheckFailure, CurrencyBalance, FailureKind
from balancebot.spend import Runway, runway
from balancebot.store import Store
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from .conftest import API_KEY
from .test_chat import daemon as chat_daemon  # noqa: F401 - fixture
from .test_chat import (  # noqa: F401 - fixtures
    slack,
    socket_config,
    telegram,
)
from .test_digest import NOW, week_of_history

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# the rendered charts, kept for a person to look at (tests/artifacts/ is git-ignored)
ARTIFACTS = Path(os.environ.get("BALANCEBOT_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
THRESHOLDS = {
    "name": "low",
    "type": "threshold",
    "thresholds": {"CNY": {"warning_below": "150", "critical_below": "80"}},
}


def keep(name: str, data: bytes) -> bytes:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)
    return data


def cny(at: datetime, total: str) -> BalanceSnapshot:
    balance = CurrencyBalance(Decimal(total), Decimal("0.00"), Decimal(total))
    return BalanceSnapshot("prod", "deepseek", at, True, {"CNY": balance})


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_title(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        title: str = image.text["Title"]
    return title


def test_chart_is_a_sane_png_with_thresholds(make_config: Any) -> None:
    config: Config = make_config(rules=[THRESHOLDS])
    thresholds = config.thresholds_for("prod")
    data = plot_history(week_of_history(), "prod", "DeepSeek", 7, SHANGHAI, thresholds)
    width, height = png_size(keep("history-7d.png", data))
    assert (width, height) == (900, 400)
    assert 10_000 < len(data) < 500_000
    assert png_title(data) == "prod: DeepSeek balance, last 7 days"


@pytest.mark.parametrize(
    ("image_format", "magic", "title"),
    [
        ("svg", b"<?xml", b"<dc:title>prod: DeepSeek balance, last 7 days</dc:title>"),
        ("pdf", b"%PDF-", b"(prod: DeepSeek balance, last 7 days)"),
    ],
)
def test_charts_are_written_as_svg_and_pdf_too(
    image_format: str, magic: bytes, title: bytes
) -> None:
    data = plot_history(week_of_history(), "prod", "DeepSeek", 7, SHANGHAI, {}, (), image_format)
    assert data.startswith(magic) and title in data


@pytest.mark.parametrize("plot", ["chart.jpg", "chart", "chart.svgz", "chart.png.txt"])
async def test_a_plot_suffix_no_format_has_is_refused_in_one_line(
    tmp_path: Path, plot: str
) -> None:
    process = await spawn(
        "history", "-c", str(tmp_path / "none.toml"), "--plot", plot, cwd=tmp_path
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2 and out == b""
    assert err.decode().splitlines() == [
        f"balancebot: --plot {plot}: name a .png, .svg or .pdf file (its suffix chooses the format)"
    ]
    assert not os.listdir(tmp_path)  # no file of the wrong kind was left


def test_the_title_names_the_accounts_provider() -> None:
    history = [replace(s, account="kimi", provider="moonshot") for s in week_of_history()]
    data = plot_history(history, "kimi", "Moonshot", 1, SHANGHAI, {})
    assert png_title(data) == "kimi: Moonshot balance, last 1 day"


def test_no_history_says_no_data_yet_instead_of_a_chart() -> None:
    with pytest.raises(NoHistory, match=r"^no data yet: no balance of prod in the last 1 day$"):
        plot_history([], "prod", "DeepSeek", 1, SHANGHAI, {})
    failed_only = [BalanceSnapshot("prod", "deepseek", NOW, False, {})]
    with pytest.raises(NoHistory, match="last 30 days"):
        plot_history(failed_only, "prod", "DeepSeek", 30, SHANGHAI, {})


@pytest.mark.parametrize(
    ("name", "offsets", "span"),
    [
        ("one-point", [0], (NOW - timedelta(minutes=1), NOW + timedelta(minutes=1))),
        (
            "twenty-seconds",
            [0, 5, 10, 15, 20],
            (
                NOW + timedelta(seconds=10) - timedelta(minutes=1),
                NOW + timedelta(seconds=10, minutes=1),
            ),
        ),
        (
            "two-hours",
            list(range(0, 7201, 60)),
            (NOW - timedelta(seconds=144), NOW + timedelta(seconds=7200 + 144)),
        ),
    ],
)
def test_short_histories_span_their_data_not_a_default_window(
    make_config: Any, name: str, offsets: list[int], span: tuple[datetime, datetime]
) -> None:
    history = [cny(NOW + timedelta(seconds=s), f"{170 - s / 60:.2f}") for s in offsets]
    assert charts._span(history) == span
    thresholds = make_config(rules=[THRESHOLDS]).thresholds_for("prod")
    data = plot_history(history, "prod", "DeepSeek", 30, SHANGHAI, thresholds)
    assert png_size(keep(f"history-{name}-in-30d.png", data)) == (900, 400)


async def test_the_store_thins_from_the_first_snapshot_so_minutes_keep_their_detail(
    tmp_path: Path,
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        for second in range(0, 600, 5):  # ten minutes, in a 30-day window
            await store.save_check(cny(NOW + timedelta(seconds=second), "100.00"))
        kept = await store.history(
            "prod", NOW - timedelta(days=29), max_points=CHART_POINTS, until=NOW + timedelta(days=1)
        )
    finally:
        await store.close()
    assert len(kept) == 120


def test_without_matplotlib_the_command_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ChartsUnavailable, match=r"pip install 'balancebot\[charts\]'"):
        plot_history([], "prod", "DeepSeek", 30, SHANGHAI, {})


async def seed(daemon: Daemon) -> None:
    for snapshot in week_of_history():
        await daemon.store.save_check(snapshot)


async def test_history_on_telegram_sends_a_photo(
    chat_daemon: Daemon,  # noqa: F811 - the fixture imported above
    telegram: FakeTelegram,  # noqa: F811
) -> None:
    from balancebot.integrations.telegram.frontend import TelegramFrontEnd

    await seed(chat_daemon)
    chat_daemon.clock.advance((NOW - chat_daemon.clock.now()).total_seconds())  # type: ignore[attr-defined]
    front = next(f for f in chat_daemon.front_ends if isinstance(f, TelegramFrontEnd))
    front.start()
    await front.wait_state(FrontEndState.CONNECTED)
    try:
        await telegram.command("/history prod 7")
        await telegram.command("/history", user_id=666, chat_id=666)
        await telegram.wait_sent(1)
        await telegram.wait_photos(1)
    finally:
        await front.stop()
    [photo] = telegram.photos
    assert photo["chat_id"] == "42" and photo["caption"].startswith("📈 <b>prod: balance over 7")
    assert png_size(photo["data"])[0] == 900
    assert png_title(photo["data"]) == "prod: DeepSeek balance, last 7 days"
    assert "not allowed" in telegram.sent[0]["text"]


async def test_history_on_slack_uploads_the_chart(
    chat_daemon: Daemon,  # noqa: F811 - the fixture imported above
    slack: FakeSlack,  # noqa: F811
) -> None:
    from balancebot.integrations.slack.frontend import SlackSocketFrontEnd

    await seed(chat_daemon)
    chat_daemon.clock.advance((NOW - chat_daemon.clock.now()).total_seconds())  # type: ignore[attr-defined]
    front = next(f for f in chat_daemon.front_ends if isinstance(f, SlackSocketFrontEnd))
    front.start()
    await front.wait_state(FrontEndState.CONNECTED)
    await slack.wait_connections(1)
    try:
        ack = await slack.ack_for(await slack.slash_command("/history", "prod 30"))
        assert ack is not None and "prod: balance over 30 days" in ack["text"]
        await slack.wait_files(1)
    finally:
        await front.stop()
    [upload] = slack.files
    assert upload["channel"] == "C1" and upload["title"] == "prod: balance over 30 days"
    assert png_size(upload["data"])[0] == 900


@pytest.mark.slow
async def test_history_command_line(tmp_path: Path, simulator: DeepSeekSimulator) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"""
timezone = "Asia/Shanghai"
[store]
path = "state.db"
[[accounts]]
name = "prod"
api_key = "{API_KEY}"
base_url = "{simulator.base_url}"
[[accounts]]
name = "kimi"
provider = "moonshot"
api_key = "{API_KEY}"
""")
    config = load_config(path)
    store = await Store.open(config.store.database_url)
    shift = datetime.now(UTC) - NOW
    for snapshot in week_of_history():
        await store.save_check(replace(snapshot, taken_at=snapshot.taken_at + shift))
        kimi = replace(snapshot, account="kimi", provider="moonshot")
        await store.save_check(replace(kimi, taken_at=snapshot.taken_at + shift))
    await store.close()

    async def run(*args: str) -> tuple[int, str]:
        process = await spawn(
            "history",
            "-c",
            str(path),
            *args,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        return process.returncode, out.decode()

    _, table = await run("--days", "2")
    lines = table.splitlines()
    header = ["TIME", "CURRENCY", "LOW", "HIGH", "LAST", "GRANTED", "TOPPED-UP", "AVAILABLE"]
    assert lines[0].split() == header
    assert 48 <= len(lines) - 1 <= 50  # one row per hour
    assert lines[-1].split()[2:] == [
        "CST",
        "CNY",
        "216.00",
        "216.00",
        "216.00",
        "0.00",
        "216.00",
        "yes",
    ]
    out_png = tmp_path / "chart.png"
    _, said = await run("--account", "kimi", "--plot", str(out_png))
    assert said.startswith(f"wrote {out_png}")
    assert png_size(out_png.read_bytes())[0] == 900
    # a week of history asked for over 30 days: the title says the week it has
    assert png_title(out_png.read_bytes()) == "kimi: Moonshot balance, last 7 days"
    # the suffix chooses the format: chart.svg once held PNG bytes
    for suffix, magic in ((".svg", b"<?xml"), (".PDF", b"%PDF-")):
        out = tmp_path / f"chart{suffix}"
        _, said = await run("--account", "kimi", "--plot", str(out))
        assert said.startswith(f"wrote {out}") and out.read_bytes().startswith(magic)
    assert b"<dc:title>kimi: Moonshot balance" in (tmp_path / "chart.svg").read_bytes()


@pytest.mark.slow
async def test_history_never_creates_a_store_and_a_wrong_path_creates_no_directory(
    tmp_path: Path,
) -> None:
    async def history(store_path: str) -> tuple[int, str]:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\npath = "{store_path}"\n[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\n'
        )
        process = await spawn("history", "-c", str(config), cwd=tmp_path)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, (err or out).decode()

    returncode, err = await history("state.db")
    assert (returncode, err.count("\n")) == (1, 1), err
    assert err.startswith(f"balancebot: no store at {tmp_path / 'state.db'}: nothing recorded yet")
    returncode, err = await history("stte/state.db")  # a typo in the directory
    assert (returncode, err.count("\n")) == (1, 1), err
    assert f"the directory {tmp_path / 'stte'} does not exist" in err
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]
    store = await Store.open(f"sqlite:///{tmp_path / 'state.db'}")  # the daemon creates it
    await store.close()
    with pytest.raises(StoreError, match="does not exist"):
        await Store.open(f"sqlite:///{tmp_path / 'nosuch' / 'state.db'}")
    returncode, out = await history("state.db")
    assert (returncode, out) == (0, "no balance history for prod in the last 30 days\n")


def spending_with_a_top_up() -> list[BalanceSnapshot]:
    """12 hours at 10 CNY an hour from 70, topped up by 100 at hour 6: 50 left at the end."""
    history, total = [], Decimal(70)
    for minute in range(0, 12 * 60 + 1, 10):
        if minute:
            total -= Decimal(10) / 6
        if minute == 6 * 60:
            total += 100
        history.append(cny(NOW + timedelta(minutes=minute), f"{total:.2f}"))
    return history


def test_the_forecast_runs_to_zero_and_top_ups_are_marked(make_config: Any) -> None:
    from matplotlib.figure import Figure

    history = spending_with_a_top_up()
    ax = Figure().subplots()
    charts._draw_top_ups(ax, history, "CNY", SHANGHAI, str)
    end = charts._draw_forecast(ax, history, "CNY", SHANGHAI, str)
    top_ups, forecast = ax.get_lines()
    assert [t.replace(tzinfo=None) for t in top_ups.get_xdata()] == [
        (NOW + timedelta(hours=6)).astimezone(SHANGHAI).replace(tzinfo=None)
    ]
    # the rule's own runway (top-up excluded): ~237 CNY a day, 50 left → about 5 hours
    outlook = runway(history, "CNY", history[-1].taken_at)
    assert isinstance(outlook, Runway) and outlook.runs_out_at is not None
    runs_out = outlook.runs_out_at
    assert timedelta(hours=4) < runs_out - history[-1].taken_at < timedelta(hours=6)
    zero_at = forecast.get_xdata()[1]
    assert (float(forecast.get_ydata()[0]), float(forecast.get_ydata()[1])) == (50.0, 0.0)
    assert zero_at == runs_out.astimezone(SHANGHAI)
    assert end is not None and end > runs_out  # the axis reaches past the end
    thresholds = make_config(rules=[THRESHOLDS]).thresholds_for("prod")
    data = plot_history(history, "prod", "DeepSeek", 1, SHANGHAI, thresholds)
    assert png_size(keep("history-forecast-and-top-up.png", data)) == (900, 400)


def test_no_forecast_when_the_money_lasts_far_beyond_the_chart() -> None:
    from matplotlib.figure import Figure

    history = [cny(NOW + timedelta(hours=h), f"{1000 - h:.2f}") for h in range(13)]
    ax = Figure().subplots()  # 24 CNY a day, 988 left: 41 days, far past a 12-hour chart
    assert charts._draw_forecast(ax, history, "CNY", SHANGHAI, str) is None
    assert ax.get_lines() == []


async def test_the_hourly_table_shows_the_low_the_high_and_the_last(tmp_path: Path) -> None:
    """An hour that went 100 → 8 → 200 was one row saying "200.00"."""
    config = load_config_text(tmp_path, "")
    store = await Store.open(config.store.database_url)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        for minute, total in ((1, "100.00"), (20, "8.00"), (40, "200.00")):
            await store.save_check(cny(hour - timedelta(hours=1, minutes=-minute), total))
    finally:
        await store.close()
    table = await history_table(config, "prod", 1)
    header, row = table.splitlines()
    assert header.split() == [
        "TIME",
        "CURRENCY",
        "LOW",
        "HIGH",
        "LAST",
        "GRANTED",
        "TOPPED-UP",
        "AVAILABLE",
    ]
    assert row.split()[3:] == ["CNY", "8.00", "200.00", "200.00", "0.00", "200.00", "yes"]


def load_config_text(tmp_path: Path, extra: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\npath = "state.db"\n[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\n' + extra
    )
    return load_config(path)


def test_a_minute_of_data_is_titled_with_the_minute_not_the_days_asked_for() -> None:
    minute = [cny(NOW + timedelta(seconds=s), "170.00") for s in range(0, 61, 5)]
    data = plot_history(minute, "prod", "DeepSeek", 30, SHANGHAI, {})
    assert png_title(data) == "prod: DeepSeek balance, last 60 s"
    days = [cny(NOW - timedelta(hours=h), "170.00") for h in range(0, 27 * 24 + 1, 6)]
    assert png_title(plot_history(days, "prod", "DeepSeek", 30, SHANGHAI, {})) == (
        "prod: DeepSeek balance, last 30 days"  # 27 of 30 days: the period asked for
    )
    assert png_title(plot_history(days, "prod", "DeepSeek", 60, SHANGHAI, {})) == (
        "prod: DeepSeek balance, last 27 days"
    )


async def test_failed_checks_are_marked_on_the_chart(tmp_path: Path) -> None:
    """Three failures in a row, then one alone: two red bands, labelled once."""
    from matplotlib.figure import Figure

    config = load_config_text(tmp_path, "")
    store = await Store.open(config.store.database_url)
    now = datetime.now(UTC)
    start = now - timedelta(hours=2)
    try:
        for minute in range(0, 120, 10):
            at = start + timedelta(minutes=minute)
            if minute in (30, 40, 50, 90):
                await store.save_check(
                    CheckFailure("prod", "deepseek", at, FailureKind.TIMEOUT, "timed out")
                )
            else:
                await store.save_check(cny(at, "170.00"))
        failed = await store.failed_checks("prod", now - timedelta(days=1), now, 48)
    finally:
        await store.close()

    def minutes(runs: list[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
        return [
            ((a - start) // timedelta(minutes=1), (b - start) // timedelta(minutes=1))
            for a, b in runs
        ]

    assert minutes(failed) == [(30, 50), (90, 90)]  # half-hour slices: each run in one
    history, marked = await load_history(config, "prod", 1, max_points=CHART_POINTS)
    assert len(history) == 8 and minutes(marked) == [(30, 30), (40, 40), (50, 50), (90, 90)]
    runs = charts.failure_runs(marked, [s.taken_at for s in history])
    assert minutes(runs) == [(30, 60), (90, 100)]  # each until the next success
    ax = Figure().subplots()
    charts._draw_failures(ax, runs, SHANGHAI, str, timedelta(minutes=1))
    assert len(ax.patches) == 2
    assert next(p.get_label() for p in ax.patches) == "checks failed"
    data = plot_history(history, "prod", "DeepSeek", 1, SHANGHAI, {}, marked)
    keep("history-with-failures.png", data)


def test_the_span_in_the_title_is_said_in_chinese_too() -> None:
    from balancebot import i18n

    minute = [cny(NOW + timedelta(seconds=s), "170.00") for s in range(0, 61, 5)]
    i18n.activate("zh")
    try:
        title = charts._title(minute, "prod", "DeepSeek", 30, i18n._)
        english = charts._title(minute, "prod", "DeepSeek", 30, i18n.N_)  # no CJK font
    finally:
        i18n.activate("en")
    assert title == "prod：DeepSeek 余额，最近 60 秒"
    assert english == "prod: DeepSeek balance, last 60 s"


async def test_failed_checks_are_found_by_the_database_a_slice_at_a_time(store_url: str) -> None:
    store = await Store.open(store_url)
    since = datetime(2026, 3, 1, tzinfo=UTC)
    try:
        for minute in (30, 40, 50, 90, 24 * 60 + 1):  # the last one is after the period
            at = since + timedelta(minutes=minute)
            await store.save_check(
                CheckFailure("prod", "deepseek", at, FailureKind.UNAVAILABLE, "502")
            )
        await store.save_check(cny(since + timedelta(minutes=45), "1.00"))  # not a failure
        found = await store.failed_checks("prod", since, since + timedelta(days=1), 48)
    finally:
        await store.close()
    assert found == [
        (since + timedelta(minutes=30), since + timedelta(minutes=50)),
        (since + timedelta(minutes=90), since + timedelta(minutes=90)),
    ]
