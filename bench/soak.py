"""Soak: many thousand checks with random faults through the real daemon components.

    python bench/soak.py [--checks 20000] [--accounts 20] [--seed 7]

Bounded (about a minute for 20,000 checks on two cores). Fails (exit 1) when RSS grows
more than --max-growth-mib after the warm-up, or when tasks, file descriptors or sockets
are left behind. Not part of the default test run; its latest output is in the README.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from balancebot.config.values import NoOptions
from balancebot.configure import parse_config
from balancebot.daemon import Daemon
from balancebot.models import Notification
from balancebot.notifiers import Notifier
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

FAULTS = [
    Fault(status=500),
    Fault(status=503),
    Fault(status=429, headers={"Retry-After": "1"}),
    Fault(status=401),
    Fault(body=b"<html>oops</html>"),
    Fault(body=b'{"is_available": tr'),
    Fault(reset_after=0),
    Fault(reset_after=10),
    Fault(hang=True),
]


class Counting(Notifier):
    def __init__(self) -> None:
        super().__init__("count", NoOptions())
        self.sent = 0

    async def send(self, notification: Notification, target: str) -> None:
        self.sent += 1


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def descriptors() -> tuple[int, int]:
    """Open file descriptors, and how many of them are sockets."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # the descriptor listdir itself used
            continue
    return len(targets), sum(1 for target in targets if target.startswith("socket:"))


async def soak(checks: int, accounts: int, seed: int, fault_rate: float) -> dict[str, float]:
    rng = random.Random(seed)
    clock = FakeClock()
    counting = Counting()
    tasks_before = len(asyncio.all_tasks())
    fds_before = descriptors()
    with tempfile.TemporaryDirectory() as tmp:
        async with DeepSeekSimulator() as simulator:
            names = [f"a{i}" for i in range(accounts)]
            for name in names:
                simulator.add_account(f"sk-{name}", {"CNY": ("0", "100")})
            config = parse_config(
                {
                    "store": {"path": str(Path(tmp) / "soak.db")},
                    "accounts": [
                        {
                            "name": n,
                            "api_key": f"sk-{n}",
                            "base_url": simulator.base_url,
                            "timeout": "50ms",
                        }
                        for n in names
                    ],
                    "rules": [
                        {
                            "name": "low",
                            "type": "threshold",
                            "repeat_interval": "10m",
                            "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
                        },
                        {"name": "failing", "type": "check_failed", "after_failures": 2},
                    ],
                    "notifiers": [{"name": "count", "type": "console"}],
                },
                Path(tmp),
                env={},
            )
            async with Daemon.open(config, clock, {"count": counting}) as daemon:
                warm_rss = middle_rss = 0.0
                started = time.perf_counter()
                for n in range(checks):
                    name = rng.choice(names)
                    simulator.accounts[f"sk-{name}"].topped_up["CNY"] = Decimal(
                        rng.choice(["100", "15", "5"])
                    )
                    if rng.random() < fault_rate:
                        simulator.fail_next(*[rng.choice(FAULTS)] * 3)
                    clock.advance(rng.uniform(1, 120))
                    await daemon.pipeline.check(name)
                    simulator.faults.clear()
                    simulator.requests.clear()  # the fake's own log, not the daemon's memory
                    clock.slept.clear()
                    await daemon.dispatcher.deliver_due()
                    if n == checks // 5:
                        gc.collect()
                        warm_rss = rss_mib()
                    if n == checks * 3 // 5:
                        gc.collect()
                        middle_rss = rss_mib()
                elapsed = time.perf_counter() - started
                await daemon.housekeeping()
            gc.collect()
            end_rss = rss_mib()
    await asyncio.sleep(0)  # let cancelled handlers finish
    tasks_after = len(asyncio.all_tasks())
    fds_after = descriptors()
    return {
        "checks": checks,
        "seconds": elapsed,
        "checks_per_second": checks / elapsed,
        "notifications": counting.sent,
        "rss_after_warmup_mib": warm_rss,
        "rss_at_end_mib": end_rss,
        "rss_growth_mib": end_rss - warm_rss,
        "rss_growth_second_half_mib": end_rss - middle_rss,
        "tasks_leaked": tasks_after - tasks_before,
        "fds_leaked": fds_after[0] - fds_before[0],
        "sockets_leaked": fds_after[1] - fds_before[1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--max-growth-mib", type=float, default=4.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the random faults log a warning each
    result = asyncio.run(soak(args.checks, args.accounts, args.seed, args.fault_rate))
    for key, value in result.items():
        print(f"{key:>24}: {value:.2f}" if isinstance(value, float) else f"{key:>24}: {value}")
    ok = (
        result["rss_growth_mib"] <= args.max_growth_mib
        and result["tasks_leaked"] <= 0
        and result["fds_leaked"] <= 0
        and result["sockets_leaked"] <= 0
    )
    print("soak: OK" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
