"""One backend's whole run: the phases in order, on one emulator and one throwaway database.

1. The bot starts as a real process (``python -m bot run``) on the database directly.
2. Load: ``load_members`` members act at once for ``load_seconds`` (``reliability.load``).
3. Crash: members post back to back; the process is killed with SIGKILL mid-load and a new
   one is started (``reliability.crash``). On PostgreSQL the new one reaches the server
   through ``StallRelay``, so that the faults below can be injected under it.
4. Hostile input to every command and autocomplete (``reliability.hostile``).
5. Faults (``reliability.outages``): PostgreSQL refused and stalled, or SQLite locked by
   another process and made read-only; each on the same process, which must recover alone.
6. The process is stopped with SIGTERM, and must exit with status 0.

Over the whole run: every interaction acknowledged within Discord's three seconds (those the
killed process could not answer are counted apart), no error id shown and no ERROR logged,
no body Discord would refuse, no ping.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bench.databases import temporary_database
from bot.db import Database
from bot.db.database import sqlite_path
from reliability.crash import run_crash
from reliability.faults import (
    ImmutableFiles,
    SQLiteLock,
    StallRelay,
    immutable_files_unsupported,
)
from reliability.hostile import run_hostile
from reliability.load import prepare, run_load
from reliability.outages import Fault, run_fault
from reliability.process import BotProcess
from reliability.replies import internal_errors, shown_error_ids
from reliability.report import BackendReport
from sandbox import Emulator, MemberDriver


@dataclass(frozen=True)
class Sizes:
    """How big each phase is. The defaults are ``make reliability``'s."""

    hostile_examples: int = 100  # cases per command, and per autocomplete
    load_members: int = 150
    load_seconds: float = 30.0
    crash_members: int = 30
    crash_seconds: float = 4.0  # load before the kill
    fault_members: int = 4
    fault_hold: float = 5.0  # each fault lasts at least this long
    # The bot's DATABASE_DEADLINE_SECONDS and DEFER_AFTER_SECONDS; None: its defaults.
    deadline: float | None = None
    defer_after: float | None = None

    @classmethod
    def small(cls) -> Sizes:
        """A few seconds of everything, for the test suite."""
        return cls(
            hostile_examples=3,
            load_members=8,
            load_seconds=2.0,
            crash_members=4,
            crash_seconds=1.5,
            fault_members=2,
            fault_hold=0.0,
            deadline=0.5,
            defer_after=0.2,
        )


def _add_members(emulator: Emulator, count: int) -> list[str]:
    guild = emulator.guild()
    names = []
    for i in range(count):
        name = f"member{i:03d}"
        guild.add_member(emulator.add_user(name, global_name=f"Member {i}"))
        names.append(name)
    return names


def _environment(sizes: Sizes) -> dict[str, str]:
    env = {"POST_COOLDOWN_SECONDS": "0"}
    if sizes.deadline is not None:
        env["DATABASE_DEADLINE_SECONDS"] = str(sizes.deadline)
    if sizes.defer_after is not None:
        env["DEFER_AFTER_SECONDS"] = str(sizes.defer_after)
    return env


@contextlib.asynccontextmanager
async def _relay(backend: str, url: str) -> AsyncIterator[StallRelay | None]:
    if backend != "postgresql":
        yield None
        return
    async with StallRelay(url) as relay:
        yield relay


def _faults(backend: str, url: str, relay: StallRelay | None) -> list[Fault]:
    if relay is not None:

        async def refuse() -> None:
            relay.refuse()

        async def stall() -> None:
            relay.stall()

        async def resume() -> None:
            relay.resume()

        return [
            Fault(
                "PostgreSQL refused",
                "the relay in front of the server resets every connection and new ones",
                refuse,
                resume,
            ),
            Fault(
                "PostgreSQL stalled",
                "the relay stops reading and forwarding both ways, closing nothing",
                stall,
                resume,
            ),
        ]
    path = sqlite_path(url)
    assert path is not None
    lock = SQLiteLock(path)
    # The WAL index (-shm) is memory-mapped: made immutable it would crash its readers with
    # SIGBUS instead of refusing a write, so only the database and its WAL are.
    immutable = ImmutableFiles([path, path.with_name(path.name + "-wal")])

    async def make_read_only() -> None:
        immutable.hold()

    async def make_writable() -> None:
        immutable.release()

    return [
        Fault(
            "SQLite locked by another process",
            "another process holds BEGIN EXCLUSIVE on the file",
            lock.hold,
            lock.release,
        ),
        Fault(
            "SQLite read-only",
            "chattr +i on the database file and its WAL: the kernel refuses every write",
            make_read_only,
            make_writable,
            unsupported=immutable_files_unsupported(path.parent),
        ),
    ]


@contextlib.asynccontextmanager
async def _database(backend: str, given: str | None) -> AsyncIterator[str]:
    if given is not None:
        yield given
        return
    async with temporary_database(backend, suffix="reliability") as url:
        yield url


async def run_backend(
    backend: str, sizes: Sizes, *, seed: int, database_url: str | None = None
) -> BackendReport:
    """Every phase on ``backend`` (``sqlite`` or ``postgresql``), in ``database_url`` (an
    empty database) or else in a throwaway one made for the run."""
    report = BackendReport(backend)
    started = time.monotonic()
    async with (
        Emulator(identify_interval=0.0, quiet_period=0.02, answer_timeout=10.0) as emulator,
        _database(backend, database_url) as url,
        _relay(backend, url) as relay,
    ):
        names = _add_members(
            emulator, max(sizes.load_members, sizes.crash_members, sizes.fault_members)
        )
        env = _environment(sizes)
        processes: list[BotProcess] = []
        sessions = 0

        async def start(database_url: str) -> BotProcess:
            nonlocal sessions
            sessions += 1
            process = BotProcess(emulator, database_url, env)
            processes.append(process)
            await process.start(sessions=sessions)
            return process

        drivers: list[MemberDriver] = [emulator.member(n) for n in names]
        clock = time.monotonic()

        def phase(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            report.phases[name] = now - clock
            clock = now

        first = await start(url)
        killed_at = float("inf")
        try:
            await prepare(drivers)
            phase("start")
            report.load = await run_load(
                emulator, drivers[: sizes.load_members], sizes.load_seconds, seed
            )
            phase("load")
            served_url = relay.url if relay is not None else url
            report.crash, bot, killed_at = await run_crash(
                first,
                drivers[: sizes.crash_members],
                seconds=sizes.crash_seconds,
                seed=seed,
                restart=lambda: start(served_url),
                database_url=url,
            )
            phase("kill -9")
            async with Database(url) as db:
                report.hostile = await run_hostile(
                    emulator, bot, db, examples=sizes.hostile_examples, seed=seed
                )
            phase("hostile")
            for fault in _faults(backend, url, relay):
                report.faults.append(
                    await run_fault(
                        emulator,
                        bot,
                        drivers[: sizes.fault_members],
                        fault,
                        hold=sizes.fault_hold,
                        database_url=url,
                    )
                )
            phase("faults")
            report.clean_exit = await bot.stop() == 0
        finally:
            for process in processes:
                if process.process is not None and process.process.returncode is None:
                    await process.kill()
        _whole_run(report, emulator, processes, killed_at)
    report.seconds = time.monotonic() - started
    return report


def _whole_run(
    report: BackendReport, emulator: Emulator, processes: list[BotProcess], killed_at: float
) -> None:
    """Figures over every interaction and every line logged."""
    report.interactions = len(emulator.interactions)
    restarted_at = processes[1].ready_at if len(processes) > 1 else None
    missed: dict[str, list[str]] = {}
    for record in emulator.unanswered():
        # Never answered, its three seconds ran out after the kill, and it was sent before
        # the new process was ready: the process was gone, not slow.
        if (
            record.acked_at is None
            and record.dispatched_at + record.ack_deadline >= killed_at
            and (restarted_at is None or record.dispatched_at < restarted_at)
        ):
            report.killed_unanswered += 1
        else:
            report.deadline_misses += 1
            late = "never" if record.ack_latency is None else f"{record.ack_latency:.2f} s"
            missed[record.name] = [*missed.get(record.name, []), late]
    for name, lates in sorted(missed.items()):
        report.problems.append(
            f"not acknowledged in 3 s: {name} ×{len(lates)} ({', '.join(lates[:5])})"
        )
    logged = [line for p in processes for line in p.log.since(0)]
    report.internal_errors = internal_errors(shown_error_ids(emulator.messages), logged)
    report.rejected_bodies = len(emulator.violations)
    report.pings = len(emulator.pings())
    report.problems += [f"logged: {line[:300]}" for line in logged[:5]]
    if emulator.internal_errors:
        report.problems.append(f"the emulator itself failed: {emulator.internal_errors[:3]}")
