"""The full stack, end to end: emulator → gateway → bot → database → interaction callback.

For /register, /post, /profile and /myposts it measures the latency a member sees (from the
moment the emulator dispatches the interaction to the bot's final visible answer) one at a
time (p50, p99), the throughput with 50 members acting at once, and the time each command
spent in units of work. Beside each, the same figures for /about, which touches no database,
measured in the same run: the ratios say what the database and the command's own work cost
on top of Discord round trips. /about is measured interleaved with each command, sample by
sample and round by round, and each ratio is taken against the /about beside it: these
machines' noise then falls on both sides alike. The goals: throughput at least half of /about's, and a p50
within 1 ms of /about's.

``bench.cli`` runs it on SQLite, and on PostgreSQL when a server answers.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.databases import temporary_database
from bot.client import Bulletin
from bot.config import Settings
from bot.db import Database
from bot.db.migrate import upgrade
from sandbox import Emulator, MemberDriver, Reply
from sandbox.world import GuildMember, User

BASELINE = "/about"
COMMANDS = ("/register", "/post", "/profile", "/myposts")
CONCURRENCY = 50
BENCH_USER_BASE = 900_000_000_000_000_000
THROUGHPUT_GOAL = 0.5
P50_SLACK_MS = 1.0


@dataclass
class Figures:
    """One command's measurements."""

    command: str
    samples: int
    p50_ms: float
    p99_ms: float
    throughput_per_s: float
    db_ms: float = 0.0
    p50_ratio: float = 1.0
    p99_ratio: float = 1.0
    throughput_ratio: float = 1.0
    p50_over_baseline_ms: float = 0.0

    @property
    def met(self) -> bool:
        return (
            self.throughput_ratio >= THROUGHPUT_GOAL and self.p50_over_baseline_ms <= P50_SLACK_MS
        )


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


async def _settled(db: Database) -> None:
    """Wait until the bot's database work from the previous command is over: /post records
    its announcement after answering, and 300 of those still queued would be counted here."""
    last = -1
    while db.stats.units != last:
        last = db.stats.units
        await asyncio.sleep(0.1)


async def _rate(action: Action, drivers: list[MemberDriver], offset: int) -> float:
    """Interactions per second with ``CONCURRENCY`` members acting at once."""
    batch = [drivers[(offset + j) % len(drivers)] for j in range(CONCURRENCY)]
    replies = await asyncio.gather(*(action(d, offset + j) for j, d in enumerate(batch)))
    start = min(r.interaction.dispatched_at for r in replies)
    end = max(r.interaction.last_change for r in replies)
    return len(replies) / (end - start)


def _figures(command: str, latencies: list[float], rates: list[float]) -> Figures:
    return Figures(
        command=command,
        samples=len(latencies),
        p50_ms=_percentile(latencies, 0.5) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        throughput_per_s=statistics.median(rates),
    )


async def _measure(
    emulator: Emulator,
    db: Database,
    command: str,
    members: list[str],
    *,
    start: int,
    sequential: int,
    rounds: int,
) -> tuple[Figures, Figures]:
    """The command and /about, interleaved sample by sample and round by round (which goes
    first alternating), so the machine's noise falls on both: the command's figures with
    their ratios to the /about measured beside them, and that /about's."""
    act, about = _action(command), _action(BASELINE)
    drivers = [emulator.member(name) for name in members]
    await _settled(db)
    own: list[float] = []
    base: list[float] = []
    db_seconds = 0.0
    for i in range(sequential):
        member = drivers[(start + i) % len(drivers)]
        before = db.stats.seconds
        if i % 2:
            base.append(_latency(await about(member, start + i)))
        own.append(_latency(await act(member, start + i)))
        db_seconds += db.stats.seconds - before
        if not i % 2:
            base.append(_latency(await about(member, start + i)))
    own_rates: list[float] = []
    base_rates: list[float] = []
    offset = start + sequential
    for round_ in range(rounds):
        await _settled(db)
        if round_ % 2:
            base_rates.append(await _rate(about, drivers, offset))
        own_rates.append(await _rate(act, drivers, offset))
        if not round_ % 2:
            await _settled(db)
            base_rates.append(await _rate(about, drivers, offset))
        offset += CONCURRENCY
    figures = _figures(command, own, own_rates)
    baseline = _figures(BASELINE, base, base_rates)
    figures.db_ms = db_seconds / sequential * 1000
    figures.p50_ratio = figures.p50_ms / baseline.p50_ms
    figures.p50_over_baseline_ms = figures.p50_ms - baseline.p50_ms
    figures.p99_ratio = figures.p99_ms / baseline.p99_ms
    # The median of the paired rounds' ratios: each pair ran under the same conditions.
    figures.throughput_ratio = statistics.median(
        o / b for o, b in zip(own_rates, base_rates, strict=True)
    )
    return figures, baseline


async def bench_backend(backend: str, sequential: int, rounds: int) -> Run:
    members_needed = sequential + rounds * CONCURRENCY
    async with (
        Emulator(quiet_period=0.002, answer_timeout=30) as emulator,
        temporary_database(backend) as url,
    ):
        members = _add_members(emulator, members_needed)
        settings = Settings(token=emulator.token, database_url=url, post_cooldown_seconds=0)
        await upgrade(url)
        db = Database(url)
        bot = Bulletin(settings, db=db, guild_ready_timeout=0.05)
        runner = asyncio.create_task(bot.start(emulator.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), timeout=30)
            run = Run(backend=backend)
            # Warm up: first-use costs (imports, connection pools, prepared statements).
            for name in members[:5]:
                await emulator.member(name).run(BASELINE)
            baselines: list[Figures] = []
            # /register goes first and registers every member the others then act as.
            for command in COMMANDS:
                figures, baseline = await _measure(
                    emulator, db, command, members, start=0, sequential=sequential, rounds=rounds
                )
                run.figures.append(figures)
                baselines.append(baseline)
            # /about's own row: the median of what was measured beside each command.
            run.figures.insert(
                0,
                Figures(
                    command=BASELINE,
                    samples=sum(b.samples for b in baselines),
                    p50_ms=statistics.median(b.p50_ms for b in baselines),
                    p99_ms=statistics.median(b.p99_ms for b in baselines),
                    throughput_per_s=statistics.median(b.throughput_per_s for b in baselines),
                ),
            )
            problems = emulator.violations or emulator.unanswered()
            if problems:
                raise RuntimeError(f"the run was not clean: {problems[:3]}")
            return run
        finally:
            await bot.close()
            await runner


def stack_table(runs: list[Run]) -> str:
    """The stack figures as a text table, each command beside /about and the goals."""
    lines = [
        f"{'backend':<11}{'command':<11}{'p50 ms':>8}{'p99 ms':>8}{'db ms':>7}{'req/s @50':>11}"
        f"{'p50 ×':>7}{'p99 ×':>7}{'req/s ×':>9}{'p50 +ms':>9}{'met':>5}",
    ]
    for run in runs:
        for f in run.figures:
            met = "" if f.command == BASELINE else ("yes" if f.met else "NO")
            extra = "" if f.command == BASELINE else f"{f.p50_over_baseline_ms:+.2f}"
            lines.append(
                f"{run.backend:<11}{f.command:<11}{f.p50_ms:>8.2f}{f.p99_ms:>8.2f}{f.db_ms:>7.2f}"
                f"{f.throughput_per_s:>11.0f}{f.p50_ratio:>7.2f}{f.p99_ratio:>7.2f}"
                f"{f.throughput_ratio:>9.2f}{extra:>9}{met:>5}"
            )
    lines.append(
        f"(× = ratio to {BASELINE}, which touches no database, measured in the same run; "
        f"db ms = time in units of work per command; goals: req/s × ≥ {THROUGHPUT_GOAL}, "
        f"p50 within {P50_SLACK_MS:.0f} ms of {BASELINE}'s)"
    )
    return "\n".join(lines)
