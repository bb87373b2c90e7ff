"""The real `balancebot` process: check's Nagios exit codes, run's clean shutdown, the demo."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
from pathlib import Path

import pytest
import trustme

from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.netfaults import Proxy
from balancebot.testing.processes import spawn

from .conftest import API_KEY

CONFIG = """
[store]
path = "state.db"

[[accounts]]
name = "prod"
api_key = "${{TEST_DEEPSEEK_KEY}}"
base_url = "{base_url}"
timeout = "15s"
check_interval = "1h"

[[rules]]
name = "low"
type = "threshold"
thresholds = {{ CNY = {{ warning_below = "20", critical_below = "10" }} }}

[[rules]]
name = "down"
type = "unavailable"
"""


async def balancebot(
    *args: str, cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    process = await spawn(
        *args,
        cwd=cwd,
        env={"TEST_DEEPSEEK_KEY": API_KEY, **(env or {})},
        stdin=True,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def config_file(tmp_path: Path, simulator: DeepSeekSimulator) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(base_url=simulator.base_url))
    return path


@pytest.mark.parametrize(
    ("balances", "available", "fault", "code", "status"),
    [
        ({"CNY": ("10.00", "100.00")}, None, None, 0, "OK"),
        ({"CNY": ("0.00", "15.00"), "USD": ("0", "1")}, None, None, 1, "WARNING"),
        ({"CNY": ("0.00", "8.20")}, None, None, 2, "CRITICAL"),
        ({"CNY": ("0.00", "50.00")}, False, None, 2, "CRITICAL"),
        ({"CNY": ("0.00", "50.00")}, None, Fault(status=401), 3, "UNKNOWN"),
        ({"CNY": ("0.00", "50.00")}, None, Fault(body=b"{not json"), 3, "UNKNOWN"),
    ],
    ids=["ok", "warning", "critical", "unavailable", "auth-failed", "malformed"],
)
async def test_check_exit_codes(
    simulator: DeepSeekSimulator,
    config_file: Path,
    balances: dict[str, tuple[str, str]],
    available: bool | None,
    fault: Fault | None,
    code: int,
    status: str,
) -> None:
    simulator.add_account(API_KEY, balances, available_override=available)
    if fault:
        simulator.fail_next(fault, fault)
    returncode, out, err = await balancebot("check", "-c", str(config_file), cwd=config_file.parent)
    assert returncode == code, out + err
    assert f"overall: {status}" in out
    assert API_KEY not in out + err

    if fault:
        simulator.fail_next(fault, fault)
    returncode, out, _ = await balancebot(
        "check", "--json", "-c", str(config_file), cwd=config_file.parent
    )
    report = json.loads(out)
    assert (returncode, report["exit_code"], report["status"]) == (code, code, status.lower())
    assert report["accounts"][0]["account"] == "prod"


async def test_check_table_shows_balances(simulator: DeepSeekSimulator, config_file: Path) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00"), "USD": ("1.25", "0.00")})
    _, out, _ = await balancebot("check", "-c", str(config_file), cwd=config_file.parent)
    lines = out.splitlines()
    assert lines[0].split() == [
        "ACCOUNT",
        "STATUS",
        "CURRENCY",
        "TOTAL",
        "GRANTED",
        "TOPPED-UP",
        "AVAILABLE",
    ]
    assert lines[1].split() == ["prod", "WARNING", "CNY", "15.00", "0.00", "15.00", "yes"]
    assert lines[2].split() == ["prod", "WARNING", "USD", "1.25", "1.25", "0.00", "yes"]
    assert "prod: warning: balance 15.00 CNY < 20.00" in out


async def test_check_verifies_https_with_the_trust_store_it_loads(tmp_path: Path) -> None:
    """`check` loads the CA bundle on a thread (tls.py); the result must really be used."""
    ca = trustme.CA()
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    simulator = DeepSeekSimulator()
    await simulator.start(tls=server_tls)
    try:
        simulator.add_account(API_KEY, {"CNY": ("10.00", "100.00")})
        path = tmp_path / "config.toml"
        path.write_text(CONFIG.format(base_url=simulator.base_url))
        assert simulator.base_url.startswith("https://")

        trusted = await balancebot(
            "check", "-c", str(path), cwd=tmp_path, env={"SSL_CERT_FILE": str(ca_file)}
        )
        assert trusted[0] == 0, trusted
        assert "overall: OK" in trusted[1]

        untrusted = await balancebot("check", "-c", str(path), cwd=tmp_path)  # certifi's CAs
        assert untrusted[0] == 3, untrusted
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted[1]

        unreadable = await balancebot(
            "check", "-c", str(path), cwd=tmp_path, env={"SSL_CERT_FILE": str(tmp_path / "no")}
        )
        assert unreadable[0] == 3, unreadable  # that account's UNKNOWN, not retried
        assert "prod: unavailable: cannot load CA certificates (SSL_CERT_FILE" in unreadable[1]
    finally:
        await simulator.stop()


async def test_check_with_bad_config_is_unknown_in_one_line(tmp_path: Path) -> None:
    """A bad config is no verdict on the balance: UNKNOWN (3), where `validate` says 2."""
    path = tmp_path / "c.toml"
    path.write_text('[[accounts]]\nname = "a"\napi_key = "${UNSET_FOR_SURE}"\n')
    returncode, _, err = await balancebot("check", "-c", str(path), cwd=tmp_path)
    assert returncode == 3
    assert err.count("\n") == 1
    assert "accounts[0].api_key: environment variable UNSET_FOR_SURE is not set" in err
    returncode, out, _ = await balancebot(
        "check", "-c", str(path), "--format", "nagios", cwd=tmp_path
    )
    assert returncode == 3
    assert out.startswith("BALANCE UNKNOWN - invalid configuration: accounts[0].api_key:")
    assert (await balancebot("validate", "-c", str(path), cwd=tmp_path))[0] == 2


async def test_run_checks_alerts_and_stops_cleanly_on_sigterm(
    simulator: DeepSeekSimulator, config_file: Path
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "8.20")})
    process = await spawn(
        "--log-level",
        "debug",
        "run",
        "-c",
        str(config_file),
        cwd=config_file.parent,
        env={"TEST_DEEPSEEK_KEY": API_KEY},
    )
    assert process.stdout is not None
    headline = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    assert headline.decode().strip() == "CRITICAL: prod DeepSeek balance 8.20 CNY < 10.00"
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert "balancebot stopped" in err.decode()
    assert API_KEY not in (out + err).decode()


async def test_run_stops_at_once_on_sigterm_while_its_database_never_answers(
    tmp_path: Path,
) -> None:
    """On main SIGTERM was ignored while the store was opening: a PostgreSQL that accepts
    connections and never answers kept `run` for asyncpg's 60 s, then it exited 1."""
    async with Proxy("127.0.0.1", 9) as database:
        database.blackhole()  # accepts the connection, answers nothing
        config = tmp_path / "config.toml"
        store = f'[store]\nurl = "postgresql://u@127.0.0.1:{database.port}/none"\n'
        text = CONFIG.format(base_url="http://127.0.0.1:9")
        config.write_text(text.replace('[store]\npath = "state.db"\n', store))
        process = await spawn("run", "-c", str(config), env={"TEST_DEEPSEEK_KEY": API_KEY})
        try:
            await asyncio.wait_for(database.accepted.wait(), timeout=30)
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), timeout=10)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, err.decode()
    assert "balancebot stopped while starting" in err.decode()


@pytest.mark.slow
async def test_demo_shows_fire_escalate_resolve_and_answers_commands(tmp_path: Path) -> None:
    returncode, out, err = await balancebot(
        "demo", cwd=tmp_path, stdin=b"/balance\n/mute 1m nosuch\n/help\n"
    )
    assert returncode == 0, out + err
    story = [line for line in out.splitlines() if line and not line.startswith(" ")]
    firing = next(i for i, line in enumerate(story) if line.startswith("WARNING: demo"))
    escalated = next(i for i, line in enumerate(story) if line.startswith("CRITICAL (escalated)"))
    resolved = next(i for i, line in enumerate(story) if line.startswith("RESOLVED: demo"))
    assert firing < escalated < resolved
    assert "Demo finished" in out
    assert "Balances" in story  # two accounts, two providers
    assert "    demo (checked" in out and "    kimi (checked" in out
    assert "Usage: /mute <duration> [account|rule] [why]" in story
    assert "    no account or rule 'nosuch' that you may mute" in out
    assert "Commands" in story
