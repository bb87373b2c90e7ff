"""`balancebot check` as a monitoring plugin, and the secrets each command needs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.cli import check as oneshot
from balancebot.cli import main as cli
from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.openrouter import OpenRouterFake

from .conftest import API_KEY
from .test_cli import balancebot

CONFIG = """
[store]
path = "state.db"

[[accounts]]
name = "prod"
api_key = "${{TEST_DEEPSEEK_KEY}}"
base_url = "{base_url}"
timeout = "15s"
{more_accounts}
[[rules]]
name = "low"
type = "threshold"
thresholds = {{ CNY = {{ warning_below = "50", critical_below = "10" }} }}

[[notifiers]]
name = "console"
type = "console"

[[notifiers]]
name = "oncall"
type = "telegram"
bot_token = "${{UNSET_TELEGRAM_TOKEN}}"
chat_ids = [1]

[chat.telegram]
notifier = "oncall"
"""


def write(tmp_path: Path, simulator: DeepSeekSimulator, more_accounts: str = "") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(base_url=simulator.base_url, more_accounts=more_accounts))
    return path


@pytest.mark.slow
async def test_check_history_and_console_notify_test_need_no_chat_tokens(
    simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "100.00")})
    path = write(tmp_path, simulator)
    code, out, err = await balancebot("check", "-c", str(path), cwd=tmp_path)
    assert (code, err) == (0, ""), out + err
    for command in (("db", "status"), ("history",)):  # no store yet: that, not the token
        code, out, err = await balancebot(*command, "-c", str(path), cwd=tmp_path)
        assert (code, "TELEGRAM" in err) == (1, False), out + err
        assert "store" in err  # (db status: "no store at"; history: "the store is empty")
    code, out, err = await balancebot(
        "notify-test", "-c", str(path), "--notifier", "console", cwd=tmp_path
    )
    assert code == 0, out + err
    assert "ok      console" in out
    # the commands that do use the token still need it, and say which
    for command in (("validate",), ("notify-test", "--notifier", "oncall")):
        code, _, err = await balancebot(*command, "-c", str(path), cwd=tmp_path)
        assert code == 2
        assert "notifiers[1].bot_token: environment variable UNSET_TELEGRAM_TOKEN" in err
    code, _, err = await balancebot(
        "notify-test", "-c", str(path), "--notifier", "nosuch", cwd=tmp_path
    )
    assert code == 2
    assert "--notifier: no notifier named 'nosuch' (configured: 'console', 'oncall')" in err


async def test_nagios_format_status_line_perfdata_and_details(
    simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "40.00")})
    simulator.add_account("sk-staging-1234", {"CNY": ("0.00", "120.50"), "USD": ("1", "2")})
    staging = '[[accounts]]\nname = "st\'g"\napi_key = "sk-staging-1234"\n'
    staging += f'base_url = "{simulator.base_url}"\n'
    path = write(tmp_path, simulator, staging)
    code, out, err = await balancebot("check", "-c", str(path), "--format", "nagios", cwd=tmp_path)
    assert code == 1, out + err
    assert out.splitlines() == [
        "BALANCE WARNING - prod 40.00 CNY < 50.00 | 'prod CNY'=40.00;50.00:;10.00: "
        "'st''g CNY'=120.50;50.00:;10.00: 'st''g USD'=3.00",
        "prod: WARNING - balance 40.00 CNY < 50.00",  # the status, not said twice
        "st'g: OK - ok",
    ]


async def test_nagios_never_rounds_a_balance_up_to_its_limit(tmp_path: Path) -> None:
    """OpenRouter's 49.996 left below 50 said `prod 50.00 USD < 50.00` and
    `'prod USD'=50.00;50.00:`, which Nagios reads as OK: perfdata carries the exact value,
    the text every decimal it takes not to look equal to the limit."""
    async with OpenRouterFake() as fake:
        fake.add_account(API_KEY, limit=52.246, usage=2.25)  # 49.996 left
        text = CONFIG.format(base_url=fake.url, more_accounts="").replace("CNY", "USD")
        path = tmp_path / "c.toml"
        path.write_text(text.replace("api_key", 'provider = "openrouter"\napi_key', 1))
        code, out, err = await balancebot(
            "check", "-c", str(path), "--format", "nagios", cwd=tmp_path
        )
    assert code == 1, out + err
    assert out.splitlines() == [
        "BALANCE WARNING - prod 49.996 USD < 50.00 | 'prod USD'=49.996;50.00:;10.00:",
        "prod: WARNING - balance 49.996 USD < 50.00",
    ]


async def test_a_bar_in_a_name_stays_out_of_the_nagios_perfdata(
    simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    """Nagios splits each line at its first `|`: `prod|eu` put `eu 40.00 CNY < 50.00` into
    the perfdata. In the text `|` is written `¦`, in a label `_` (as `=` is)."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", "40.00")})
    path = write(tmp_path, simulator)
    path.write_text(path.read_text().replace('name = "prod"', 'name = "prod|eu"'))
    code, out, err = await balancebot("check", "-c", str(path), "--format", "nagios", cwd=tmp_path)
    assert code == 1, out + err
    assert out.splitlines() == [
        "BALANCE WARNING - prod¦eu 40.00 CNY < 50.00 | 'prod_eu CNY'=40.00;50.00:;10.00:",
        "prod¦eu: WARNING - balance 40.00 CNY < 50.00",
    ]


@pytest.mark.parametrize("output", ["nagios", "text"])
async def test_an_upstream_message_cannot_print_terminal_escapes_or_forge_lines(
    output: str, simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    """What a failing upstream says is shown, but as text: ESC, a line break and `|`
    written visibly, so it can neither drive the terminal nor forge a Nagios line or
    perfdata."""
    said = "bad key\x1b[2J\x1b]0;pwned\x07|'x'=1\nBALANCE OK - all fine\u202e"
    simulator.fail_next(Fault(401, json.dumps({"error": {"message": said}}).encode()))
    path = write(tmp_path, simulator)
    code, out, err = await balancebot("check", "-c", str(path), "--format", output, cwd=tmp_path)
    assert code == 3, out + err
    assert [c for c in out if not c.isprintable() and c != "\n"] == []
    assert "BALANCE OK" not in out.splitlines()
    assert "bad key\\x1b[2J" in out  # shown, escaped
    if output == "nagios":
        assert "|" not in out and len(out.splitlines()) == 2


@pytest.mark.parametrize(
    "balances", [{}, {"USD": ("0.00", "100.00")}], ids=["no-balances", "usd-only"]
)
async def test_a_watched_currency_missing_from_the_answer_is_unknown(
    simulator: DeepSeekSimulator, tmp_path: Path, balances: dict[str, tuple[str, str]]
) -> None:
    simulator.add_account(API_KEY, balances, available_override=True)
    path = write(tmp_path, simulator)
    code, out, _ = await balancebot("check", "-c", str(path), "--format", "nagios", cwd=tmp_path)
    assert code == 3
    assert out.startswith("BALANCE UNKNOWN - prod: no CNY balance in the answer")
    assert "prod: UNKNOWN - no CNY balance in the answer" in out.splitlines()  # not twice
    code, out, _ = await balancebot("check", "-c", str(path), cwd=tmp_path)
    assert code == 3
    assert "prod: UNKNOWN: no CNY balance in the answer" in out


async def test_a_key_with_a_curly_quote_is_one_unknown_line(
    simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    path = write(tmp_path, simulator)
    code, out, err = await balancebot(
        "check", "-c", str(path), cwd=tmp_path, env={"TEST_DEEPSEEK_KEY": "sk-abc\u201d"}
    )
    assert code == 3
    assert "Traceback" not in err and err.count("\n") == 1
    assert "accounts[0].api_key" in err and "U+201D" in err
    assert "sk-abc" not in out + err
    (tmp_path / "latin1.toml").write_bytes(b"# caf\xe9\n")
    code, _, err = await balancebot("check", "-c", "latin1.toml", cwd=tmp_path)
    assert (code, err.count("\n")) == (3, 1)
    assert "not UTF-8" in err


@pytest.fixture
def root_logging() -> Iterator[None]:
    """`cli.main` in this process configures logging (root handlers, library levels, the
    record factory); give it all back for the tests that follow."""
    root = logging.getLogger()
    handlers, factory = root.handlers[:], logging.getLogRecordFactory()
    levels = {
        name: logger.level
        for name, logger in {"": root, **logging.root.manager.loggerDict}.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.handlers[:] = handlers
    logging.setLogRecordFactory(factory)
    for name, logger in {"": root, **logging.root.manager.loggerDict}.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.mark.usefixtures("root_logging")
def test_any_unexpected_exception_in_check_is_one_unknown_line(
    simulator: DeepSeekSimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, simulator)
    monkeypatch.setenv("TEST_DEEPSEEK_KEY", API_KEY)

    def broken(*_: object, **__: object) -> list[oneshot.AccountReport]:
        raise MemoryError(f"while holding {API_KEY}\nsecond line")

    monkeypatch.setattr(oneshot, "check_all", broken)
    for extra, stream in (((), "err"), (("--format", "nagios"), "out")):
        with pytest.raises(SystemExit) as exited:
            cli.main(["check", "-c", str(path), *extra])
        assert exited.value.code == 3
        captured = capsys.readouterr()
        line = captured.err if stream == "err" else captured.out
        assert line.count("\n") == 1
        assert "internal error: MemoryError: while holding *** second line" in line
        assert API_KEY not in captured.out + captured.err


async def test_no_config_anywhere_says_where_it_looked(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "BALANCEBOT_CONFIG": ""}
    code, _, err = await balancebot("validate", cwd=tmp_path, env=env)
    assert code == 2
    assert "no configuration file; looked in $BALANCEBOT_CONFIG (not set), balancebot.toml" in err
    assert "`balancebot init`" in err
    code, _, err = await balancebot("check", cwd=tmp_path, env=env)
    assert code == 3 and err.count("\n") == 1


async def test_check_outlook_reads_runway_and_spend_from_the_daemons_history(
    tmp_path: Path, simulator: DeepSeekSimulator
) -> None:
    from datetime import UTC, datetime, timedelta

    from balancebot.models import BalanceSnapshot, CurrencyBalance
    from balancebot.store import Store

    simulator.add_account(API_KEY, {"CNY": ("0.00", "40.00")})
    config = write(tmp_path, simulator)
    env = {"TEST_DEEPSEEK_KEY": API_KEY}

    code, out, _ = await balancebot("check", "-c", str(config), "--outlook", cwd=tmp_path, env=env)
    assert code == 1  # 40 < 50: a warning; and no store yet, said once per account
    assert "prod: no outlook: no store at" in out
    assert "`balancebot run` records the history (`check` keeps none)" in out

    # what a running daemon would have recorded: 10 CNY an hour over the last 12 hours
    store = await Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    now = datetime.now(UTC)
    for hours in range(12, 0, -1):
        total = Decimal(40 + 10 * hours)
        balance = CurrencyBalance(total, Decimal(0), total)
        at = now - timedelta(hours=hours)
        await store.save_check(BalanceSnapshot("prod", "deepseek", at, True, {"CNY": balance}))
    await store.close()

    code, out, _ = await balancebot("check", "-c", str(config), "--outlook", cwd=tmp_path, env=env)
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("prod: CNY: at 240.00 CNY/day"))
    assert "runs out in about 4 h" in line and "spent today" in line
    code, out, _ = await balancebot(
        "check", "-c", str(config), "--outlook", "--json", cwd=tmp_path, env=env
    )
    assert '"outlook": [' in out and "CNY/day" in out
