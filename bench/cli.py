"""``python -m bench`` (``make bench``): run the benchmarks, print their tables, write
``bench/results.json`` with the machine they ran on.

Two suites: ``stack`` (``bench.stack``: the whole bot, each command beside /about) and
``data`` (``bench.data_layer``: the data layer beside the raw driver). Each figure is a ratio
to a baseline measured in the same run, since these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.data_layer import DataResults, bench_data_layer, data_table
from bench.databases import postgres_answers, temporary_database
from bench.stack import Run, bench_backend, stack_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
SUITES = ("stack", "data")
BACKENDS = ("sqlite", "postgresql")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
    }


async def run(
    suites: list[str], backends: list[str], sequential: int, rounds: int
) -> tuple[list[Run], dict[str, DataResults]]:
    stack_runs: list[Run] = []
    data: dict[str, DataResults] = {}
    for backend in backends:
        if backend == "postgresql" and not await postgres_answers():
            sys.stdout.write("PostgreSQL does not answer at 127.0.0.1:5432: skipped.\n")
            continue
        if "stack" in suites:
            started = time.perf_counter()
            stack_runs.append(await bench_backend(backend, sequential, rounds))
            sys.stdout.write(f"stack on {backend}: {time.perf_counter() - started:.1f} s\n")
        if "data" in suites:
            started = time.perf_counter()
            async with (
                temporary_database(backend) as url,
                temporary_database(backend, suffix="growth") as growth_url,
            ):
                data[backend] = await bench_data_layer(url, growth_url)
            sys.stdout.write(f"data layer on {backend}: {time.perf_counter() - started:.1f} s\n")
    return stack_runs, data


def _data_report(results: DataResults) -> dict[str, Any]:
    return {
        "single": [{**asdict(c), "ratio": c.ratio, "met": c.met} for c in results.single],
        "units": [asdict(u) for u in results.units],
        "bulk": {**asdict(results.bulk), "ratio": results.bulk.ratio, "met": results.bulk.met},
        "growth": [{**asdict(g), "ratio": g.ratio, "met": g.met} for g in results.growth],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--suite", action="append", choices=SUITES, help="default: both")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="default: both")
    parser.add_argument("--sequential", type=int, default=200, help="stack: one-at-a-time samples")
    parser.add_argument("--rounds", type=int, default=6, help="stack: rounds of 50 members at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)
    stack_runs, data = asyncio.run(
        run(
            args.suite or list(SUITES), args.backend or list(BACKENDS), args.sequential, args.rounds
        )
    )
    if stack_runs:
        sys.stdout.write("\n" + stack_table(stack_runs) + "\n")
    if data:
        sys.stdout.write("\n" + data_table(data) + "\n")
    report = {
        "machine": machine(),
        "stack": [
            {"backend": r.backend, "figures": [{**asdict(f), "met": f.met} for f in r.figures]}
            for r in stack_runs
        ],
        "data_layer": {backend: _data_report(results) for backend, results in data.items()},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(f"Written to {RESULTS.relative_to(ROOT)}\n")
    return 0
