"""`balancebot check` as a real process: one deadline for the whole run (`--timeout`), and
the start-up path it promises (no event loop, no CA bundle for plain http)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.processes import spawn

from .conftest import API_KEY

ACCOUNT = """
[[accounts]]
name = "{name}"
api_key = "{key}"
base_url = "{url}"
timeout = "20s"
"""


async def test_timeout_bounds_the_whole_run_retries_included(tmp_path: Path) -> None:
    """The balance API hangs (after a 503, so the retry happens too): the run still ends at
    `--timeout`, with that account UNKNOWN and the healthy one reported."""
    async with DeepSeekSimulator() as hanging, DeepSeekSimulator() as healthy:
        hanging.add_account(API_KEY)
        healthy.add_account(API_KEY, {"CNY": ("0.00", "80.00")})
        hanging.fail_next(Fault(status=503), *(Fault(hang=True) for _ in range(3)))
        path = tmp_path / "c.toml"
        path.write_text(
            ACCOUNT.format(name="stuck", key=API_KEY, url=hanging.base_url)
            + ACCOUNT.format(name="fine", key=API_KEY, url=healthy.base_url)
        )
        started = time.monotonic()
        # 6 s from process start: a loaded machine may spend 2 s importing, and the retry
        # must still happen before the deadline
        process = await spawn("check", "-c", str(path), "--format", "nagios", "--timeout", "6")
        out, err = await asyncio.wait_for(process.communicate(), 30)
        elapsed = time.monotonic() - started
        assert len(hanging.requests) == 2  # the 503, then the retry that hung
    assert 5.5 < elapsed < 7.0, elapsed  # waited for the deadline, and not a second past it
    assert (process.returncode, err) == (3, b"")
    assert out.decode().splitlines() == [
        "BALANCE UNKNOWN - stuck: timeout: no complete answer within 6s (check --timeout) "
        "| 'fine CNY'=80.00",
        "stuck: UNKNOWN - timeout: no complete answer within 6s (check --timeout)",
        "fine: OK - ok",
    ]


async def test_without_timeout_the_accounts_timeout_bounds_the_run(tmp_path: Path) -> None:
    async with DeepSeekSimulator() as hanging:
        hanging.add_account(API_KEY)
        hanging.fail_next(*(Fault(hang=True) for _ in range(3)))
        path = tmp_path / "c.toml"
        path.write_text(
            ACCOUNT.format(name="stuck", key=API_KEY, url=hanging.base_url).replace("20s", "4s")
        )
        started = time.monotonic()
        process = await spawn("check", "-c", str(path), "--json")
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        elapsed = time.monotonic() - started
        assert len(hanging.requests) == 1  # no retry: the deadline left no time for one
    assert elapsed < 5.0, elapsed
    [account] = json.loads(out)["accounts"]
    assert account["error"] == {
        "kind": "timeout",
        "message": "no complete answer within 4s (check --timeout)",
    }


async def test_a_bad_command_line_is_unknown(tmp_path: Path) -> None:
    """Exit 3 (UNKNOWN), as monitoring plugins do: argparse's 2 would read as CRITICAL."""
    for args in (["--timeout", "0"], ["--timeout", "nan"], ["--timeout", "soon"], ["--bogus"]):
        process = await spawn("check", *args, cwd=tmp_path)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 3 and args[0].encode() in err, (args, err)


PROBE = """
import ssl, sys
loaded = []
for name in ("load_verify_locations", "load_default_certs"):
    def spy(self, *args, _real=getattr(ssl.SSLContext, name), **kwargs):
        loaded.append(1)
        return _real(self, *args, **kwargs)
    setattr(ssl.SSLContext, name, spy)
from balancebot.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
modules = sorted(m for m in sys.modules if m.split(".")[0] in ("asyncio", "anyio"))
print("PROBE", code, len(loaded), " ".join(modules), file=sys.stderr)
"""


async def python(*args: str) -> tuple[int | None, str]:
    """A new interpreter with `args`: its exit code and standard error."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, err.decode()


async def _probe(path: Path) -> tuple[int, int, set[str]]:
    """(exit code, CA loads, asyncio/anyio modules) of `check -c path` in a new process."""
    _, err = await python("-c", PROBE, "check", "-c", str(path))
    line = next(x for x in err.splitlines() if x.startswith("PROBE "))
    _, code, loads, *modules = line.split()
    return int(code), int(loads), set(modules)


async def test_check_runs_without_asyncio_and_loads_no_ca_bundle_for_http(
    simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    simulator.add_account(API_KEY)
    plain = tmp_path / "plain.toml"
    plain.write_text(ACCOUNT.format(name="prod", key=API_KEY, url=simulator.base_url))
    code, loads, modules = await _probe(plain)
    assert (code, loads) == (0, 0)
    # httpcore imports anyio's package for its async locks whatever the backend; since
    # anyio 4.16 that is a lazy stub (~1 ms) that brings neither asyncio nor a backend
    assert modules <= {"anyio", "anyio._lazyimport"}, modules

    secure = (
        tmp_path / "secure.toml"
    )  # nothing listens there: the trust store is loaded all the same
    secure.write_text(ACCOUNT.format(name="prod", key=API_KEY, url="https://127.0.0.1:9"))
    code, loads, modules = await _probe(secure)
    assert code == 3 and loads >= 1
    assert not any(m.startswith("asyncio") for m in modules)


async def test_check_imports_only_what_it_needs(
    simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    """Not the daemon's libraries, though the config names a Telegram notifier."""
    simulator.add_account(API_KEY)
    path = tmp_path / "c.toml"
    path.write_text(
        ACCOUNT.format(name="prod", key=API_KEY, url=simulator.base_url)
        + '[[notifiers]]\nname = "tg"\ntype = "telegram"\nbot_token = "1:abc"\nchat_ids = [1]\n'
    )
    code, err = await python("-X", "importtime", "-m", "balancebot", "check", "-c", str(path))
    assert code == 0
    modules = {x.split("|")[-1].strip() for x in err.splitlines() if x.startswith("import time:")}
    imported = {m.split(".")[0] for m in modules}
    assert "httpx" in imported
    assert "importlib.metadata" not in modules  # built-in providers need no entry-point scan
    assert imported.isdisjoint(
        {
            "asyncio",
            "telegram",
            "slack_sdk",
            "aiohttp",
            "sqlalchemy",
            "alembic",
            "apscheduler",
            "prometheus_client",
            "babel",
            "apprise",
            "matplotlib",
        }
    )


async def test_outlook_keeps_the_deadline_when_the_store_hangs(
    simulator: DeepSeekSimulator, tmp_path: Path
) -> None:
    """A PostgreSQL server that accepts and never answers (its own connect timeout is 10 s)."""
    from balancebot.testing.netfaults import Proxy

    simulator.add_account(API_KEY)
    async with Proxy("127.0.0.1", 5432) as proxy:
        proxy.blackhole()
        path = tmp_path / "c.toml"
        path.write_text(
            f'[store]\nurl = "postgresql://postgres@127.0.0.1:{proxy.port}/nowhere"\n'
            + ACCOUNT.format(name="prod", key=API_KEY, url=simulator.base_url)
        )
        started = time.monotonic()
        process = await spawn("check", "-c", str(path), "--outlook", "--timeout", "2")
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    assert process.returncode == 0
    assert "prod: no outlook: the store did not answer within 2s (check --timeout)" in out.decode()
