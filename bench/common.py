"""What the benchmarks share: a table row, the fake servers in a process of their own, a
configuration of many accounts, timing and process statistics.

bench/replicas.py imports Row, SimulatorProcess and proc_stats through run.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    name: str
    measured: str
    baseline: str
    ratio: float | None
    target: str

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}"
        return [self.name, self.measured, self.baseline, ratio, self.target]


class SimulatorProcess:
    """The fake servers in a process of their own, so they do not share our loop: the
    DeepSeek simulator, or with `mixed` every provider fake (`testing/providers.py`)."""

    def __init__(self, accounts: int, mixed: bool = False) -> None:
        module = "balancebot.testing.providers" if mixed else "balancebot.testing.deepseek"
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--accounts", str(accounts)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("READY "), line
        ready = line.removeprefix("READY ").strip()
        self.urls: dict[str, str] = json.loads(ready) if mixed else {"deepseek": ready}
        self.url = next(iter(self.urls.values()))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def config_for(urls: str | dict[str, str], accounts: int, tmp: str, concurrency: int) -> Any:
    """Accounts spread round-robin over the providers in `urls` (one URL: DeepSeek)."""
    from balancebot.configure import parse_config

    served = sorted({"deepseek": urls}.items() if isinstance(urls, str) else urls.items())
    return parse_config(
        {
            "max_concurrent_checks": concurrency,
            "store": {"path": f"{tmp}/bench.db"},
            "accounts": [
                {
                    "name": f"a{i}",
                    "api_key": f"sk-sim-{i}",
                    "provider": served[i % len(served)][0],
                    "base_url": served[i % len(served)][1],
                }
                for i in range(accounts)
            ],
            "rules": [
                {
                    "name": "low",
                    "type": "threshold",
                    "thresholds": {"CNY": {"warning_below": "50", "critical_below": "10"}},
                }
            ],
            "notifiers": [{"name": "quiet", "type": "console"}],
        },
        Path(tmp),
        env={},
    )


async def timed(work: Callable[[], Awaitable[object]], repeats: int) -> float:
    """The best of `repeats` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MiB, CPU seconds used so far) of a process."""
    with open(f"/proc/{pid}/status") as status:
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return rss_kib / 1024, ticks / os.sysconf("SC_CLK_TCK")
