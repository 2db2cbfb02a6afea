"""Cluster throughput: interactions per second with one bot process against two, on PostgreSQL.

The same two shards, the same database server and the same emulator (in the benchmark's
process, which also plays the members); once as one ``python -m bot run`` process running
both shards, once as two, one shard each. Fifty members at once, half in a guild of each
shard, run ``/profile`` (a read) and ``/post`` (a write). The figure is the rate with two
processes over the rate with one: what a second process buys on this machine. There is no
goal: on 2 cores the emulator, PostgreSQL and the bots share them.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.databases import temporary_database
from bot.db.migrate import upgrade
from sandbox import Emulator, MemberDriver, NoAnswerError, Reply
from sandbox.world import GuildMember, User

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = (1, 2)
COMMANDS = ("/profile", "/post")
CONCURRENCY = 50
BENCH_USER_BASE = 910_000_000_000_000_000
READY_SECONDS = 90.0
UNKNOWN_INTERACTION = 10062


@dataclass
class Throughput:
    processes: int
    command: str
    per_second: float
    # Cores kept busy meanwhile (CPU seconds per second): the benchmark's own process (the
    # emulator and the members) and the bot processes together.
    emulator_cores: float = 0.0
    bot_cores: float = 0.0
    # Interactions not answered within Discord's 3 s (left out of the rate, and shown).
    late: int = 0


@dataclass
class ClusterFigures:
    """Every pass's figures; each layout and command is reported as the median of its passes."""

    runs: list[Throughput] = field(default_factory=list)

    def median(self, processes: int, command: str) -> Throughput:
        mine = [r for r in self.runs if (r.processes, r.command) == (processes, command)]
        return Throughput(
            processes,
            command,
            statistics.median(r.per_second for r in mine),
            statistics.median(r.emulator_cores for r in mine),
            statistics.median(r.bot_cores for r in mine),
            sum(r.late for r in mine),
        )


def _add_members(emulator: Emulator, guild_key: str, count: int, offset: int) -> list[MemberDriver]:
    guild = emulator.guild(guild_key)
    joined = guild.members[0].joined_at
    drivers = []
    for i in range(offset, offset + count):
        user = User(id=BENCH_USER_BASE + i, username=f"bench{i}", global_name=f"Bench {i}")
        guild.members.append(GuildMember(user=user, role_ids=[], joined_at=joined))
        drivers.append(emulator.member(user.username, guild_key))
    return drivers


def _environment(emulator: Emulator, url: str, shard_ids: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DISCORD_") and k not in ("DATABASE_URL", "DEV_GUILD_ID")
    }
    env.update(
        DISCORD_TOKEN=emulator.token,
        DISCORD_API_BASE_URL=emulator.api_url,
        DISCORD_GATEWAY_URL=emulator.gateway_url,
        DATABASE_URL=url,
        DEV_GUILD_ID="",
        SHARD_COUNT="2",
        SHARD_IDS=shard_ids or "",
        POST_COOLDOWN_SECONDS="0",
        LOG_LEVEL="WARNING",
    )
    return env


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def _bots(emulator: Emulator, url: str, processes: int) -> AsyncIterator[list[int]]:
    shard_sets = [None] if processes == 1 else ["0", "1"]
    started = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=_environment(emulator, url, shards),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for shards in shard_sets
    ]
    try:
        await emulator.wait_until_ready(sessions=2, timeout=READY_SECONDS)
        yield [p.pid for p in started]
    finally:
        for process in started:
            if process.returncode is None:
                process.terminate()
        for process in started:
            await asyncio.wait_for(process.wait(), timeout=30)


def _rate(replies: list[Reply]) -> float:
    start = min(r.interaction.dispatched_at for r in replies)
    end = max(r.interaction.last_change for r in replies)
    return len(replies) / (end - start)


async def _run(drivers: list[MemberDriver], command: str, round_: int) -> tuple[list[Reply], int]:
    """One round of every member at once: the replies, and how many got no answer in time.

    A machine shared with others can stall a process for seconds now and then; such a round
    is counted, not allowed to end the whole benchmark.
    """
    if command == "/post":
        runs = [
            d.run("/post", title=f"Cluster post {round_}.{i}", body="Some text " * 20)
            for i, d in enumerate(drivers)
        ]
    else:
        runs = [d.run(command) for d in drivers]
    outcomes = await asyncio.gather(*runs, return_exceptions=True)
    replies = [o for o in outcomes if isinstance(o, Reply)]
    late = [o for o in outcomes if isinstance(o, NoAnswerError)]
    others = [o for o in outcomes if not isinstance(o, Reply | NoAnswerError)]
    if others:
        raise others[0]
    return replies, len(late)


async def _layout(processes: int, rounds: int) -> list[Throughput]:
    async with (
        temporary_database("postgresql", suffix=f"cluster{processes}") as url,
        Emulator(quiet_period=0.002, answer_timeout=30) as emulator,
    ):
        await upgrade(url)
        half = CONCURRENCY // 2
        drivers = _add_members(emulator, "alpha", half, 0) + _add_members(
            emulator, "beta", half, half
        )
        async with _bots(emulator, url, processes) as pids:
            await asyncio.gather(
                *(d.run("/register", name=f"Bench {i}", age=30) for i, d in enumerate(drivers))
            )
            results = []
            for command in COMMANDS:
                await _run(drivers, command, -1)  # warm-up: connections, prepared statements
                began, mine = time.perf_counter(), time.process_time()
                theirs = sum(_cpu_seconds(pid) for pid in pids)
                rates: list[float] = []
                late = 0
                for round_ in range(rounds):
                    replies, missed = await _run(drivers, command, round_)
                    late += missed
                    if replies:
                        rates.append(_rate(replies))
                wall = time.perf_counter() - began
                results.append(
                    Throughput(
                        processes,
                        command,
                        statistics.median(rates),
                        emulator_cores=(time.process_time() - mine) / wall,
                        bot_cores=(sum(_cpu_seconds(pid) for pid in pids) - theirs) / wall,
                        late=late,
                    )
                )
            # Answers past the deadline are refused (10062), as Discord refuses them; nothing
            # else Discord would refuse may happen.
            refused = [v for v in emulator.violations if v.code != UNKNOWN_INTERACTION]
            if refused:
                raise RuntimeError(f"the cluster run was not clean: {refused[:3]}")
            return results


async def bench_cluster(*, rounds: int = 8, passes: int = 2) -> ClusterFigures:
    """Each layout ``passes`` times, in alternating order so neither always goes first."""
    figures = ClusterFigures()
    for number in range(passes):
        for processes in LAYOUTS if number % 2 == 0 else tuple(reversed(LAYOUTS)):
            figures.runs.extend(await _layout(processes, rounds))
    return figures


def cluster_table(figures: ClusterFigures) -> str:
    lines = [
        f"{'command':<11}{'processes':>10}{'req/s':>8}{'×':>7}{'emulator cores':>16}"
        f"{'bot cores':>11}{'late':>6}"
    ]
    for command in COMMANDS:
        one = figures.median(1, command).per_second
        for run in (figures.median(n, command) for n in LAYOUTS):
            lines.append(
                f"{command:<11}{run.processes:>10}{run.per_second:>8.0f}"
                f"{run.per_second / one:>7.2f}{run.emulator_cores:>16.2f}{run.bot_cores:>11.2f}"
                f"{run.late:>6}"
            )
    lines.append(
        f"(2 shards, PostgreSQL, {CONCURRENCY} members at once across both shards; medians "
        "of rounds and passes; × = over 1 process; cores = CPU seconds per second of the emulator with the members, and of "
        "the bot processes; late = not answered within 3 s; no goal)"
    )
    return "\n".join(lines)
