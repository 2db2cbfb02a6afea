"""``python -m reliability`` (``make reliability``): run every phase on each backend, print
one table, and exit 1 if anything that must hold did not.

PostgreSQL is the local server at 127.0.0.1:5432 (user ``postgres``, trust auth), in a
database created for the run and dropped after it, as ``make bench`` does; without a server
the PostgreSQL column is skipped and the run says so.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time

from bench.cli import machine
from bench.databases import postgres_answers
from reliability.harness import Sizes, run_backend
from reliability.report import BackendReport, table, verdict

BACKENDS = ("sqlite", "postgresql")


async def run(backends: list[str], sizes: Sizes, seed: int) -> list[BackendReport]:
    reports: list[BackendReport] = []
    for backend in backends:
        if backend == "postgresql" and not await postgres_answers():
            sys.stdout.write("PostgreSQL does not answer at 127.0.0.1:5432: skipped.\n")
            continue
        started = time.monotonic()
        sys.stdout.write(f"{backend}: running…\n")
        sys.stdout.flush()
        report = await run_backend(backend, sizes, seed=seed)
        reports.append(report)
        phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report.phases.items())
        sys.stdout.write(f"{backend}: {time.monotonic() - started:.0f} s ({phases})\n")
    return reports


def main(argv: list[str] | None = None) -> int:
    default = Sizes()
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="default: both")
    parser.add_argument(
        "--hostile",
        type=int,
        default=default.hostile_examples,
        help="hostile cases per command and per autocomplete",
    )
    parser.add_argument("--members", type=int, default=default.load_members, help="load: members")
    parser.add_argument(
        "--seconds", type=float, default=default.load_seconds, help="load: how long"
    )
    parser.add_argument("--seed", type=int, help="default: a new one, printed")
    parser.add_argument(
        "--small", action="store_true", help="the test suite's sizes (a few seconds each)"
    )
    parser.add_argument("--verbose", action="store_true", help="list every problem found")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)
    sizes = Sizes.small() if args.small else default
    if not args.small:
        sizes = Sizes(
            hostile_examples=args.hostile, load_members=args.members, load_seconds=args.seconds
        )
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    about = machine()
    sys.stdout.write(
        f"Bulletin reliability, seed {seed}, commit {about['commit']}, {about['cores']} cores, "
        f"{about['cpu']}, Python {about['python']}, {about['platform']}\n"
    )
    reports = asyncio.run(run(args.backend or list(BACKENDS), sizes, seed))
    if not reports:
        return 1
    sys.stdout.write("\n" + table(reports) + "\n\n")
    for report in reports:
        for fault in report.faults:
            sys.stdout.write(f"{report.name}, {fault.name}: {fault.how}.\n")
    failures = verdict(reports)
    if args.verbose or failures:
        for report in reports:
            for problem in [*report.hostile.problems, *report.crash.problems, *report.problems]:
                sys.stdout.write(f"  {report.name}: {problem}\n")
            for fault in report.faults:
                for problem in fault.problems:
                    sys.stdout.write(f"  {report.name}, {fault.name}: {problem}\n")
    if failures:
        sys.stdout.write("\nFAILED:\n" + "".join(f"- {f}\n" for f in failures))
        return 1
    sys.stdout.write("\nEvery figure that must be 0 is 0, and every fault was survived.\n")
    return 0
