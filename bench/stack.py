"""The full stack, end to end: emulator → gateway → bot → database → interaction callback.

For /register, /post, /profile and /myposts it measures the latency a member sees (from the
moment the emulator dispatches the interaction to the bot's final visible answer) one at a
time (p50, p99), and the throughput with 50 members acting at once. Beside each, the same
figures for /about, which touches no database, measured in the same run: the ratios say what
the database and the command's own work cost on top of Discord round trips.

Runs on SQLite, and on PostgreSQL too when a server answers at 127.0.0.1:5432. Prints a table
and writes ``bench/results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bot.client import Bulletin
from bot.config import Settings
from bot.db import Database
from bot.db.migrate import upgrade
from sandbox import Emulator, MemberDriver, Reply
from sandbox.world import GuildMember, User

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BASELINE = "/about"
COMMANDS = ("/register", "/post", "/profile", "/myposts")
CONCURRENCY = 50
BENCH_USER_BASE = 900_000_000_000_000_000


@dataclass
class Figures:
    """One command's measurements."""

    command: str
    samples: int
    p50_ms: float
    p99_ms: float
    throughput_per_s: float
    p50_ratio: float = 1.0
    p99_ratio: float = 1.0
    throughput_ratio: float = 1.0


@dataclass
class Run:
    backend: str
    figures: list[Figures] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _latency(reply: Reply) -> float:
    record = reply.interaction
    return record.last_change - record.dispatched_at


def _add_members(emulator: Emulator, count: int) -> list[str]:
    guild = emulator.guild("alpha")
    joined = guild.members[0].joined_at
    names = []
    for i in range(count):
        name = f"bench{i}"
        user = User(id=BENCH_USER_BASE + i, username=name, global_name=f"Bench {i}")
        guild.members.append(GuildMember(user=user, role_ids=[], joined_at=joined))
        names.append(name)
    return names


Action = Callable[[MemberDriver, int], Awaitable[Reply]]


def _action(command: str) -> Action:
    def run(member: MemberDriver, i: int) -> Awaitable[Reply]:
        if command == "/register":
            return member.run("/register", name=f"Bench {i}", age=30)
        if command == "/post":
            return member.run("/post", title=f"Benchmark post {i}", body="Some text " * 20)
        return member.run(command)

    return run


async def _measure(
    emulator: Emulator, command: str, members: list[str], sequential: int, rounds: int
) -> Figures:
    action = _action(command)
    drivers = [emulator.member(name) for name in members]
    latencies: list[float] = []
    for i in range(sequential):
        reply = await action(drivers[i % len(drivers)], i)
        latencies.append(_latency(reply))
    rates: list[float] = []
    offset = sequential
    for _ in range(rounds):
        batch = [drivers[(offset + j) % len(drivers)] for j in range(CONCURRENCY)]
        replies = await asyncio.gather(*(action(d, offset + j) for j, d in enumerate(batch)))
        offset += CONCURRENCY
        start = min(r.interaction.dispatched_at for r in replies)
        end = max(r.interaction.last_change for r in replies)
        rates.append(len(replies) / (end - start))
    return Figures(
        command=command,
        samples=len(latencies),
        p50_ms=_percentile(latencies, 0.5) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        throughput_per_s=statistics.median(rates),
    )


@contextlib.asynccontextmanager
async def _database(backend: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    name = f"bulletin_bench_{os.getpid()}"
    admin = await asyncpg.connect(PG_SERVER)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_SERVER)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _postgres_answers() -> bool:
    try:
        connection = await asyncpg.connect(PG_SERVER, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


async def bench_backend(backend: str, sequential: int, rounds: int) -> Run:
    members_needed = sequential + rounds * CONCURRENCY
    async with (
        Emulator(quiet_period=0.002, answer_timeout=30) as emulator,
        _database(backend) as url,
    ):
        members = _add_members(emulator, members_needed)
        settings = Settings(token=emulator.token, database_url=url, post_cooldown_seconds=0)
        db = Database(url)
        await upgrade(db)
        bot = Bulletin(settings, db=db, guild_ready_timeout=0.05)
        runner = asyncio.create_task(bot.start(emulator.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), timeout=30)
            run = Run(backend=backend)
            # Warm up: first-use costs (imports, connection pools, prepared statements).
            for name in members[:5]:
                await emulator.member(name).run(BASELINE)
            baseline = await _measure(emulator, BASELINE, members, sequential, rounds)
            run.figures.append(baseline)
            for command in COMMANDS:
                figures = await _measure(emulator, command, members, sequential, rounds)
                figures.p50_ratio = figures.p50_ms / baseline.p50_ms
                figures.p99_ratio = figures.p99_ms / baseline.p99_ms
                figures.throughput_ratio = figures.throughput_per_s / baseline.throughput_per_s
                run.figures.append(figures)
            problems = emulator.violations or emulator.unanswered()
            if problems:
                raise RuntimeError(f"the run was not clean: {problems[:3]}")
            return run
        finally:
            await bot.close()
            await runner


def _machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
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


def _table(runs: list[Run]) -> str:
    lines = [
        f"{'backend':<11}{'command':<11}{'p50 ms':>8}{'p99 ms':>8}{'req/s @50':>11}"
        f"{'p50 ×':>8}{'p99 ×':>8}{'req/s ×':>9}",
    ]
    for run in runs:
        for f in run.figures:
            lines.append(
                f"{run.backend:<11}{f.command:<11}{f.p50_ms:>8.2f}{f.p99_ms:>8.2f}"
                f"{f.throughput_per_s:>11.0f}{f.p50_ratio:>8.2f}{f.p99_ratio:>8.2f}"
                f"{f.throughput_ratio:>9.2f}"
            )
    lines.append(f"(× = ratio to {BASELINE}, which touches no database, measured in the same run)")
    return "\n".join(lines)


async def run_all(sequential: int, rounds: int, backends: list[str]) -> list[Run]:
    runs = []
    for backend in backends:
        if backend == "postgresql" and not await _postgres_answers():
            sys.stdout.write("PostgreSQL does not answer at 127.0.0.1:5432: skipped.\n")
            continue
        started = time.perf_counter()
        runs.append(await bench_backend(backend, sequential, rounds))
        sys.stdout.write(f"{backend}: measured in {time.perf_counter() - started:.1f} s\n")
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sequential", type=int, default=200, help="one-at-a-time samples")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of 50 concurrent members")
    parser.add_argument(
        "--backend", action="append", choices=("sqlite", "postgresql"), help="default: both"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)
    runs = asyncio.run(
        run_all(args.sequential, args.rounds, args.backend or ["sqlite", "postgresql"])
    )
    sys.stdout.write(_table(runs) + "\n")
    RESULTS.write_text(
        json.dumps({"machine": _machine(), "runs": [asdict(r) for r in runs]}, indent=2) + "\n"
    )
    sys.stdout.write(f"Written to {RESULTS.relative_to(ROOT)}\n")
    return 0
