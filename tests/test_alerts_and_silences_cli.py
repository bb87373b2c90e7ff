"""`balancebot alerts` and `balancebot silences` as real processes, on the chat layer."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from balancebot.clock import SystemClock
from balancebot.commands.access import Caller
from balancebot.configure import load_config
from balancebot.daemon import Daemon
from balancebot.models import AlertKey, Severity, TransitionKind
from balancebot.notify import labels_of
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn

from .conftest import API_KEY

CONSOLE = Caller("console", "ops", "console")
FORM = "is not a duration from 1m to 30d, like 30m, 2h or 1d12h"


def write_config(path: Path, store: str, base_url: str) -> Path:
    path.write_text(
        f"""
[store]
url = "{store}"

[[accounts]]
name = "prod"
api_key = "{API_KEY}"
base_url = "{base_url}"

[[accounts]]
name = "dev"
api_key = "{API_KEY}-dev"
base_url = "{base_url}"

[[rules]]
name = "low"
type = "threshold"
thresholds.CNY = {{ warning_below = "20", critical_below = "10" }}
""",
        encoding="utf-8",
    )
    return path


async def run(*args: str) -> tuple[int, str, str]:
    process = await spawn(*args)
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def config_file(tmp_path: Path, store_url: str, simulator: DeepSeekSimulator) -> Path:
    """A store with a real firing alert: prod checked by the daemon's pipeline and the
    alert delivered through the console notifier."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    simulator.add_account(f"{API_KEY}-dev", {"CNY": ("0.00", "50.00")})
    path = write_config(tmp_path / "config.toml", store_url, simulator.base_url)
    async with Daemon.open(load_config(path), SystemClock()) as daemon:
        await daemon.pipeline.check("prod")
        await daemon.pipeline.check("dev")
        assert await daemon.dispatcher.deliver_due() == 1
    return path


async def test_alerts_lists_the_stores_alerts(config_file: Path) -> None:
    code, out, err = await run("alerts", "-c", str(config_file), "--json")
    assert code == 0, err
    [alert] = json.loads(out)
    assert {k: alert[k] for k in ("account", "rule", "subject", "severity", "status")} == {
        "account": "prod",
        "rule": "low",
        "subject": "CNY",
        "severity": "critical",
        "status": "firing",
    }
    assert alert["since"] and alert["last_sent"]
    code, out, _ = await run("alerts", "-c", str(config_file))
    assert code == 0
    assert out.split("\n")[0].split() == [
        "ACCOUNT", "RULE", "SUBJECT", "SEVERITY", "STATUS", "SINCE", "LAST", "SENT",
    ]  # fmt: skip
    assert out.split("\n")[1].split()[:5] == ["prod", "low", "CNY", "critical", "firing"]
    async with Daemon.open(load_config(config_file), SystemClock()) as daemon:
        chat = await daemon.commands.handle(CONSOLE, "/alerts")  # the same layer, in chat
    assert chat is not None and chat.headline == "Alerts: 1"
    assert chat.details[0].startswith("prod low CNY: critical firing since ")


@pytest.mark.slow
async def test_silences_from_the_cli_and_from_chat_are_the_same(config_file: Path) -> None:
    config = str(config_file)
    code, out, err = await run(
        "silences", "add", "2h", "--account", "prod", "--comment", "topping up", "-c", config
    )
    assert code == 0, err
    assert out.startswith("silence 1: muted prod for 2h 00m, until ")
    async with Daemon.open(load_config(config_file), SystemClock()) as daemon:
        status = await daemon.commands.handle(CONSOLE, "/status")
        assert status is not None
        assert any(
            line.startswith("  prod until") and f"(by cli:{getpass.getuser()})" in line
            for line in status.details
        )
        muted = await daemon.commands.handle(CONSOLE, "/mute 30m low")
        assert muted is not None and muted.headline == "Muted rule low for 30m 00s"
    code, out, _ = await run("silences", "list", "--json", "-c", config)
    first, second = json.loads(out)
    assert (first["account"], first["rule"], first["comment"]) == ("prod", None, "topping up")
    assert first["created_by"] == f"cli:{getpass.getuser()}"
    assert (second["account"], second["rule"], second["created_by"]) == (None, "low", "console:ops")
    code, out, _ = await run("silences", "list", "-c", config)
    header = ["ID", "ACCOUNT", "RULE", "MATCHERS", "UNTIL", "BY", "COMMENT"]
    assert out.split("\n")[0].split() == header
    assert out.split("\n")[1].split()[:4] == ["1", "prod", "*", "-"]
    assert (await run("silences", "expire", "1", "-c", config))[:2] == (0, "silence 1 expired\n")
    code, _, err = await run("silences", "expire", "1", "-c", config)
    assert (code, err) == (1, "balancebot: no active silence 1 (see balancebot silences list)\n")
    async with Daemon.open(load_config(config_file), SystemClock()) as daemon:
        reply = await daemon.commands.handle(CONSOLE, "/unmute prod")
        assert reply is not None and reply.headline == "Nothing was muted for prod"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["99999999999d"], f"'99999999999d' {FORM}"),
        (["\uff11h"], f"'\uff11h' {FORM}"),  # a full-width digit one
        (["0.0000001ms"], f"'0.0000001ms' {FORM}"),
        (["2h", "--account", "nosuch"], "no account 'nosuch' that you may mute"),
        (["2h", "--rule", "nosuch"], "no rule 'nosuch'"),
        (
            ["2h", "--match", "team"],
            "'team' is not a label matcher: write name=\"value\" (or !=, =~ for a regular "
            'expression, !~), e.g. severity="critical"',
        ),
        (
            ["2h", "--match", "team=~("],
            "team=~'(': not a regular expression "
            "(missing ), unterminated subpattern at position 0)",
        ),
    ],
)
async def test_bad_silence_arguments_exit_2_with_one_line(
    config_file: Path, args: list[str], error: str
) -> None:
    code, out, err = await run("silences", "add", *args, "-c", str(config_file))
    assert (code, out, err) == (2, "", f"balancebot: {error}\n")


async def test_a_silence_by_labels_from_the_cli_mutes_what_it_matches(config_file: Path) -> None:
    config = str(config_file)
    code, out, err = await run(
        "silences", "add", "1h", "--match", 'currency="CNY"', "--match", "severity=~crit.*",
        "-c", config,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith('silence 1: muted currency="CNY" / severity=~"crit.*" for 1h 00m')
    code, out, _ = await run("silences", "list", "--json", "-c", config)
    [listed] = json.loads(out)
    assert (listed["account"], listed["rule"]) == (None, None)
    assert listed["matchers"] == ['currency="CNY"', 'severity=~"crit.*"']
    code, out, _ = await run("silences", "list", "-c", config)
    assert out.split("\n")[1].split()[:5] == ["1", "*", "*", 'currency="CNY"', 'severity=~"crit.*"']
    async with Daemon.open(load_config(config_file), SystemClock()) as daemon:
        [silence] = await daemon.store.active_silences(daemon.clock.now())
        prod = AlertKey("prod", "low", "CNY")
        labels = labels_of(daemon.config, prod, Severity.CRITICAL)
        assert silence.mutes(
            TransitionKind.REPEAT, prod, Severity.CRITICAL, daemon.clock.now(), labels
        )
        labels = labels_of(daemon.config, prod, Severity.WARNING)
        assert not silence.mutes(
            TransitionKind.REPEAT, prod, Severity.WARNING, daemon.clock.now(), labels
        )
        # chat takes matchers right after the duration; then the comment
        reply = await daemon.commands.handle(CONSOLE, "/mute 2h team=search provider!=x why")
        assert reply is not None
        assert reply.headline == 'Muted team="search" provider!="x" for 2h 00m'
        status = await daemon.commands.handle(CONSOLE, "/status")
        assert status is not None
        assert any('team="search" / provider!="x" until' in line for line in status.details)
        reply = await daemon.commands.handle(CONSOLE, "/mute 2h team=~(")
        assert reply is not None and "not a regular expression" in reply.details[0]


async def test_no_store_is_an_error_not_a_new_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "state.db"
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\npath = "{missing}"\n[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\n',
        encoding="utf-8",
    )
    for args in (["alerts"], ["silences", "list"], ["silences", "add", "1h"]):
        code, out, err = await run(*args, "-c", str(path))
        assert (code, out) == (1, "")
        assert err == f"balancebot: no store at {missing} (balancebot run creates it); " + (
            "check store.path\n"
        )
    assert not missing.parent.exists()


async def test_a_broken_store_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "state.db"
    broken.write_bytes(b"this is not a database" * 100)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\npath = "{broken}"\n[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\n',
        encoding="utf-8",
    )
    code, out, err = await run("silences", "list", "-c", str(path))
    assert (code, out) == (1, "") and err.startswith("balancebot: ")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
async def test_comments_are_one_bounded_line_and_are_listed_escaped(config_file: Path) -> None:
    """On main a comment with a newline and terminal escapes, or of 100 KB, was stored and
    printed raw by `silences list` (terminal injection)."""
    config = str(config_file)
    for comment in ("\x1b[2J\x1b[31mowned\nfake row", "\u202eevil", "x" * 100_000):
        code, out, err = await run(
            "silences", "add", "2h", "--account", "prod", "--comment", comment, "-c", config
        )
        assert (code, out) == (2, "") and len(err.splitlines()) == 1, err
        assert "comment" in err and "\x1b" not in err
    ok = "x" * 500
    code, _, err = await run(
        "silences", "add", "2h", "--account", "prod", "--comment", ok, "-c", config
    )
    assert code == 0, err
    async with Daemon.open(load_config(config_file), SystemClock()) as daemon:
        reply = await daemon.commands.handle(CONSOLE, "/mute 1h dev topping up today")
        assert reply is not None and reply.headline == "Muted dev for 1h 00m"
        refused = await daemon.commands.handle(CONSOLE, "/mute 1h dev \x1b[2J")
        assert (
            refused is not None
            and refused.headline == "Usage: /mute <duration> [account|rule] [why]"
        )
        assert refused.details == ("a comment is one line of text, without control characters",)
        now = SystemClock().now()
        # stored before comments were checked: listed with its escapes shown, not obeyed
        await daemon.store.add_silence(
            "dev", None, now.replace(year=now.year + 1), "old", now, "\x1b[31mred\nrow"
        )
        comments = [s.comment for s in await daemon.store.active_silences(now)]
    assert comments[:2] == [ok, "topping up today"]
    code, out, _ = await run("silences", "list", "-c", config)
    assert code == 0 and "\x1b" not in out and len(out.splitlines()) == 4
    assert out.splitlines()[3].endswith("\\x1b[31mred\\nrow")
