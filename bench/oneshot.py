"""`balancebot check` as a monitoring system runs it: a whole process, installed as a user
installs it, against the peer CLI `check-balance` and a bare `httpx.get`, on one fake answer.

Each tool gets a virtual environment of its own, made here: balancebot from a wheel of this
checkout (an editable install adds an import hook to every start), the peer from PyPI. The
three commands run interleaved, so drift in the machine's load hits all of them alike.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from importlib.metadata import version
from pathlib import Path

from common import ROOT, Row, SimulatorProcess

PEER = "check-balance==0.1.0"

# check-balance keeps each provider's URL in `constants.PROVIDERS` (frozen dataclasses) and
# has no setting for it: started as its console script starts it (`check_balance.main:main`),
# with DeepSeek's entry pointed at the fake first. Its other providers stay off: their
# *_API_KEY variables are unset.
PEER_MAIN = (
    "import dataclasses, check_balance.constants as c; "
    "c.PROVIDERS[:] = [dataclasses.replace(p, api_base_url={url!r}) if p.id == 'deepseek' "
    "else p for p in c.PROVIDERS]; from check_balance.main import main; main()"
)


def _environment(where: Path, *requirements: str) -> tuple[Path | None, str]:
    """A new virtual environment with `requirements` installed: (its python, "") or
    (None, why not)."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    done = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        return None, reason[:160]
    return python, ""


def _balancebot(tmp: Path) -> tuple[Path, str]:
    """balancebot installed from a wheel of this checkout (its dependencies from the
    configured index), or this interpreter's editable checkout when that fails."""
    wheels, source = tmp / "wheels", tmp / "source"
    # built from a copy: setuptools leaves build/ and an egg-info in the tree it builds, and
    # a stale egg-info in the checkout would shadow the editable install's entry points
    skip = shutil.ignore_patterns(".*", "*.egg-info", "build", "__pycache__", "tests")
    shutil.copytree(ROOT, source, ignore=skip)
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip, "-w", str(wheels), str(source)],
        capture_output=True,
        timeout=600,
    )
    if built.returncode == 0:
        python, reason = _environment(tmp / "balancebot", str(next(wheels.glob("*.whl"))))
        if python is not None:
            return python, "installed from a wheel"
    else:
        reason = "no wheel could be built"
    return Path(sys.executable), f"this checkout's environment (editable: {reason})"


def _timed_run(command: list[str], env: dict[str, str], times: list[float]) -> None:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    times.append(time.perf_counter() - started)
    assert done.returncode == 0, (command[:3], done.stdout[-300:], done.stderr[-300:])


def one_shot(repeats: int) -> list[Row]:
    """Median wall time of `repeats` interleaved runs of each command."""
    server = SimulatorProcess(1)
    try:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            python, how = _balancebot(tmp)
            peer, why_not = _environment(tmp / "peer", PEER, f"httpx=={version('httpx')}")
            config = tmp / "c.toml"
            config.write_text(
                f'[[accounts]]\nname = "a"\napi_key = "sk-sim-0"\nbase_url = "{server.url}"\n'
            )
            script = python.parent / "balancebot"  # the console script a user runs
            commands = {
                "check": [str(script), "check", "-c", str(config)],
                "bare": [
                    str(python),
                    "-c",
                    f"import httpx; httpx.get('{server.url}/user/balance', "
                    "headers={'Authorization': 'Bearer sk-sim-0'}).json()",
                ],
            }
            if peer is not None:
                commands["peer"] = [str(peer), "-c", PEER_MAIN.format(url=server.url)]
            # the same small environment for all: no proxy, no locale, no other API key
            env = {"PATH": os.environ.get("PATH", ""), "HOME": name, "DEEPSEEK_API_KEY": "sk-sim-0"}
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(repeats):
                for what, command in commands.items():
                    _timed_run(command, env, times[what])
    finally:
        server.stop()
    ms = {what: statistics.median(values) * 1000 for what, values in times.items()}
    rows = []
    title = f"one-shot: balancebot check vs the peer CLI {PEER} (sync httpx; median of {repeats}"
    if "peer" in ms:
        rows.append(
            Row(
                f"{title} interleaved runs; balancebot {how})",
                f"{ms['check']:.0f} ms",
                f"{ms['peer']:.0f} ms",
                ms["check"] / ms["peer"],
                "<= 1.0",
            )
        )
    else:
        rows.append(Row(f"{title}): skipped, {PEER} not installed: {why_not}", "", "", None, ""))
    rows.append(
        Row(
            "one-shot: balancebot check vs python -c httpx.get of the same URL (same runs)",
            f"{ms['check']:.0f} ms",
            f"{ms['bare']:.0f} ms",
            ms["check"] / ms["bare"],
            "<= 1.3",
        )
    )
    return rows
