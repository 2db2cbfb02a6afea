"""``python -m bench`` (``make bench``): run the benchmarks, print their tables, write
``bench/results.json`` with the machine they ran on.

Four suites: ``stack`` (``bench.stack``: the whole bot, each command beside /about), ``data``
(``bench.data_layer``: the data layer beside the raw driver, and how it grows), ``memory``
(``bench.memory``: the bot's bytes per guild beside a bare discord.py client's) and
``cluster`` (``bench.cluster``: one bot process against two, on PostgreSQL). Each figure is a
ratio to a baseline measured in the same run, since these machines are noisy.
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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import ClusterFigures, bench_cluster, cluster_table
from bench.data_layer import DataResults, bench_data_layer, data_table
from bench.databases import postgres_answers, temporary_database
from bench.memory import MemoryFigures, bench_memory, memory_table
from bench.stack import Run, bench_backend, stack_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
SUITES = ("stack", "data", "memory", "cluster")
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


@dataclass
class Results:
    stack: list[Run] = field(default_factory=list)
    data: dict[str, DataResults] = field(default_factory=dict)
    memory: MemoryFigures | None = None
    cluster: ClusterFigures | None = None


async def run(suites: list[str], backends: list[str], sequential: int, rounds: int) -> Results:
    """The suites, those that hold members to Discord's 3 s first: the data layer's million-row
    loads leave the disk writing back for a while, which stalls whatever runs next."""
    results = Results()
    postgres = await postgres_answers()
    if "postgresql" in backends and not postgres:
        sys.stdout.write("PostgreSQL does not answer at 127.0.0.1:5432: its figures skipped.\n")
    usable = [b for b in backends if b != "postgresql" or postgres]

    def took(what: str, started: float) -> None:
        sys.stdout.write(f"{what}: {time.perf_counter() - started:.1f} s\n")

    if "stack" in suites:
        for backend in usable:
            started = time.perf_counter()
            results.stack.append(await bench_backend(backend, sequential, rounds))
            took(f"stack on {backend}", started)
    if "cluster" in suites and postgres:
        started = time.perf_counter()
        results.cluster = await bench_cluster()
        took("cluster", started)
    if "memory" in suites:
        started = time.perf_counter()
        results.memory = await bench_memory()
        took("memory", started)
    if "data" in suites:
        for backend in usable:
            started = time.perf_counter()
            async with (
                temporary_database(backend) as url,
                temporary_database(backend, suffix="growth_small") as growth_small_url,
                temporary_database(backend, suffix="growth_large") as growth_large_url,
                temporary_database(backend, suffix="world_small") as small_url,
                temporary_database(backend, suffix="world_large") as large_url,
            ):
                results.data[backend] = await bench_data_layer(
                    url, (growth_small_url, growth_large_url), (small_url, large_url)
                )
            took(f"data layer on {backend}", started)
    return results


def _data_report(results: DataResults) -> dict[str, Any]:
    return {
        "single": [{**asdict(c), "ratio": c.ratio, "met": c.met} for c in results.single],
        "units": [asdict(u) for u in results.units],
        "bulk": {**asdict(results.bulk), "ratio": results.bulk.ratio, "met": results.bulk.met},
        "growth": [{**asdict(g), "ratio": g.ratio, "met": g.met} for g in results.growth],
        "world_growth": [
            {**asdict(g), "ratio": g.ratio, "met": g.met} for g in results.world_growth
        ],
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
    results = asyncio.run(
        run(
            args.suite or list(SUITES), args.backend or list(BACKENDS), args.sequential, args.rounds
        )
    )
    if results.stack:
        sys.stdout.write("\n" + stack_table(results.stack) + "\n")
    if results.data:
        sys.stdout.write("\n" + data_table(results.data) + "\n")
    if results.memory is not None:
        sys.stdout.write("\n" + memory_table(results.memory) + "\n")
    if results.cluster is not None:
        sys.stdout.write("\n" + cluster_table(results.cluster) + "\n")
    memory = results.memory
    report = {
        "machine": machine(),
        "stack": [
            {"backend": r.backend, "figures": [{**asdict(f), "met": f.met} for f in r.figures]}
            for r in results.stack
        ],
        "data_layer": {backend: _data_report(found) for backend, found in results.data.items()},
        "memory": None
        if memory is None
        else {**asdict(memory), "ratio": memory.ratio, "met": memory.met},
        "cluster": None if results.cluster is None else asdict(results.cluster),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(f"Written to {RESULTS.relative_to(ROOT)}\n")
    return 0
