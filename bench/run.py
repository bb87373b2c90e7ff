"""Benchmarks: each measured against a baseline in the same run, on the same machine.

    python bench/run.py [--quick]

Prints one table; the README quotes the latest. Not a test: nothing here is asserted.
The benchmarks are in sweeps.py, latency.py, footprint.py and oneshot.py; what they share in
common.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable

# bench/replicas.py imports Row, SimulatorProcess and proc_stats from here
from common import Row
from common import SimulatorProcess as SimulatorProcess
from common import proc_stats as proc_stats
from footprint import history_at_scale, idle_cost
from latency import alert_latency, command_latency
from oneshot import one_shot
from sweeps import sweep

BENCHMARKS = ("idle", "alert", "command", "sweep", "mixed", "startup", "history")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run just these")
    args = parser.parse_args()
    accounts, repeats, minutes = (200, 3, 60 * 24 * 30) if args.quick else (1000, 5, 525_600)
    benchmarks: dict[str, Callable[[], list[Row]]] = {
        "idle": lambda: asyncio.run(idle_cost(15 if args.quick else 60)),
        "alert": lambda: asyncio.run(alert_latency(200)),
        "command": lambda: [asyncio.run(command_latency(500))],
        "sweep": lambda: asyncio.run(sweep(accounts, 50, repeats)),
        "mixed": lambda: asyncio.run(sweep(accounts, 50, repeats, mixed=True)),
        "startup": lambda: one_shot(9 if args.quick else 15),
        "history": lambda: [asyncio.run(history_at_scale(minutes))],
    }
    rows = [row for name in args.only or BENCHMARKS for row in benchmarks[name]()]
    header = ["benchmark", "measured", "baseline", "ratio", "target"]
    table = [header, *(row.cells() for row in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"\n{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
