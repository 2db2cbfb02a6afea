"""What ``make reliability`` measured, and the one table it prints.

Every figure here comes from a run: counts of interactions the emulator recorded, replies
the members saw, lines the bot logged and rows the database holds. Nothing is filled in.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Tally:
    """Hostile cases: how each was answered."""

    tried: int = 0
    refused: int = 0  # an ephemeral "That didn't work" (autocomplete: no suggestions)
    answered: int = 0  # a normal answer
    error_ids: int = 0  # "Sorry, that failed … error id" shown to the member
    unanswered: int = 0  # no answer within Discord's deadline
    logged_errors: int = 0  # ERROR records and stray tracebacks in the bot's log
    rejected_bodies: int = 0  # bodies Discord would refuse
    pings: int = 0
    by_command: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def internal_errors(self) -> int:
        return self.error_ids + self.logged_errors


@dataclass
class FaultResult:
    """One fault, injected for real, and whether the bot came through it."""

    name: str
    how: str  # how it was injected
    unsupported: str | None = None  # why it cannot be injected on this machine
    commands: int = 0  # interactions during the fault
    told_unavailable: int = 0  # "temporarily unavailable" (autocomplete: no suggestions)
    served: int = 0  # answered normally anyway (reads that did not need what was broken)
    late: int = 0  # not acknowledged within Discord's three seconds
    internal_errors: int = 0
    writes_claimed: int = 0  # writes that said "done" during the fault
    # Posts sent during the fault whose member was told it was unavailable, found stored
    # afterwards: the reply did not tell the truth (not part of "survived", reported apart).
    writes_stored: int = 0
    # Writes whose member was told they may still have been saved (sent, then no answer):
    # part of "told unavailable", and whatever became of them is not a contradiction.
    writes_unconfirmed: int = 0
    recovered_after: float | None = None  # seconds from the end of the fault to serving again
    restarted: bool = False  # the bot process changed (it must not)
    problems: list[str] = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return (
            self.unsupported is None
            and self.commands > 0
            and self.told_unavailable > 0
            and self.late == 0
            and self.internal_errors == 0
            and self.writes_claimed == 0
            and self.recovered_after is not None
            and not self.restarted
            and not self.problems
        )

    def cell(self) -> str:
        if self.unsupported is not None:
            return f"not measurable here ({self.unsupported})"
        verdict = "survived" if self.survived else "NOT survived"
        parts = [f"{self.told_unavailable}/{self.commands} told unavailable"]
        if self.served:
            parts.append(f"{self.served} served")
        if self.late:
            parts.append(f"{self.late} late")
        if self.internal_errors:
            parts.append(f"{self.internal_errors} internal errors")
        if self.writes_claimed:
            parts.append(f"{self.writes_claimed} writes said done")
        if self.writes_unconfirmed:
            parts.append(f"{self.writes_unconfirmed} writes said unconfirmed")
        if self.recovered_after is None:
            parts.append("did not recover")
        else:
            parts.append(f"back {self.recovered_after:.1f} s after")
        if self.restarted:
            parts.append("process restarted")
        return f"{verdict}: {', '.join(parts)}"


@dataclass
class CrashResult:
    """``kill -9`` under write load, then a restart."""

    members: int = 0
    attempted: int = 0  # /post sent
    confirmed: int = 0  # replies that said the post was published
    lost: int = 0  # confirmed, but not in the database after the restart
    duplicated: int = 0  # a title stored more than once
    in_flight: int = 0  # sent, no reply: the process died with them
    stored_unconfirmed: int = 0  # in flight at the kill, stored anyway (allowed)
    served_after: bool = False  # the restarted process published and confirmed again
    problems: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    """Many members acting at once: latencies from the emulator's records."""

    members: int = 0
    seconds: float = 0.0
    interactions: int = 0
    ack: list[float] = field(default_factory=list)  # seconds, dispatch → first response
    final: list[float] = field(default_factory=list)  # seconds, dispatch → last change
    harness_lag: list[float] = field(default_factory=list)  # seconds, the harness loop's
    unavailable: int = 0  # "temporarily unavailable" under load
    internal_errors: int = 0
    mix: dict[str, int] = field(default_factory=dict)

    def ms(self, values: list[float], q: float) -> float:
        return percentile(values, q) * 1000

    @property
    def per_second(self) -> float:
        return self.interactions / self.seconds if self.seconds else 0.0

    @property
    def mean_ack_ms(self) -> float:
        return statistics.fmean(self.ack) * 1000 if self.ack else 0.0


@dataclass
class BackendReport:
    """Everything measured on one database."""

    backend: str
    hostile: Tally = field(default_factory=Tally)
    faults: list[FaultResult] = field(default_factory=list)
    crash: CrashResult = field(default_factory=CrashResult)
    load: LoadResult = field(default_factory=LoadResult)
    interactions: int = 0  # every interaction of the run
    deadline_misses: int = 0  # not acknowledged within three seconds (the kill's excepted)
    killed_unanswered: int = 0  # unanswered because the process had been killed
    internal_errors: int = 0  # the whole run: error ids shown, ERROR logged
    rejected_bodies: int = 0
    pings: int = 0
    clean_exit: bool = False  # the last process stopped on SIGTERM with status 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds each phase took
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return BACKEND_NAMES.get(self.backend, self.backend)


FAULT_ORDER = (
    "PostgreSQL refused",
    "PostgreSQL stalled",
    "SQLite locked by another process",
    "SQLite read-only",
)


def table(reports: list[BackendReport]) -> str:
    """One table: a row per measure, a column per backend, and what each must be."""
    rows: list[tuple[str, list[str], str]] = []

    def row(label: str, cells: list[str], goal: str = "") -> None:
        rows.append((label, cells, goal))

    kinds = len(reports[0].hostile.by_command) if reports else 0
    row(
        f"hostile cases tried ({kinds} commands and autocompletes)",
        [str(r.hostile.tried) for r in reports],
    )
    row("  refused / answered", [f"{r.hostile.refused} / {r.hostile.answered}" for r in reports])
    row(
        "  internal errors (error id shown, only logged)",
        [
            f"{r.hostile.internal_errors} ({r.hostile.error_ids}, {r.hostile.logged_errors})"
            for r in reports
        ],
        "0",
    )
    for name in FAULT_ORDER:
        cells = []
        for r in reports:
            found = next((f for f in r.faults if f.name == name), None)
            cells.append("n/a" if found is None else found.cell())
        if any(c != "n/a" for c in cells):
            row(f"fault: {name}", cells, "survived")
    row(
        "posts told unavailable (not unconfirmed) in a fault, stored after it",
        [str(sum(f.writes_stored for f in r.faults)) for r in reports],
        "0",
    )
    row(
        "kill -9 under load: posts confirmed",
        [f"{r.crash.confirmed} of {r.crash.attempted} sent" for r in reports],
    )
    row("  confirmed but lost after restart", [str(r.crash.lost) for r in reports], "0")
    row("  stored twice", [str(r.crash.duplicated) for r in reports], "0")
    row(
        "  in flight at the kill (stored anyway)",
        [f"{r.crash.in_flight} ({r.crash.stored_unconfirmed})" for r in reports],
    )
    row(
        "deadline misses (not answered in 3 s)",
        [
            f"{r.deadline_misses} of {r.interactions} ({r.killed_unanswered} sent to the "
            "killed process, apart)"
            for r in reports
        ],
        "0",
    )
    load = reports[0].load if reports else LoadResult()
    row(
        f"{load.members} members at once for {load.seconds:.0f} s: interactions",
        [f"{r.load.interactions} ({r.load.per_second:.0f}/s)" for r in reports],
    )
    row(
        "  acknowledgement p50 / p99 ms",
        [f"{r.load.ms(r.load.ack, 0.5):.1f} / {r.load.ms(r.load.ack, 0.99):.1f}" for r in reports],
    )
    row(
        "  final answer p50 / p99 ms",
        [
            f"{r.load.ms(r.load.final, 0.5):.1f} / {r.load.ms(r.load.final, 0.99):.1f}"
            for r in reports
        ],
    )
    row("  told unavailable under load", [str(r.load.unavailable) for r in reports], "0")
    row(
        "  harness event-loop lag p50 / p99 ms",
        [
            f"{r.load.ms(r.load.harness_lag, 0.5):.1f} / {r.load.ms(r.load.harness_lag, 0.99):.1f}"
            for r in reports
        ],
    )
    row("internal errors, whole run", [str(r.internal_errors) for r in reports], "0")
    row(
        "bodies Discord would refuse / pings",
        [f"{r.rejected_bodies} / {r.pings}" for r in reports],
        "0 / 0",
    )
    headers = ["measure", *(r.name for r in reports), "must be"]
    body = [[label, *cells, goal] for label, cells, goal in rows]
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]

    def render(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [render(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [render(line) for line in body]
    return "\n".join(lines)


def verdict(reports: list[BackendReport]) -> list[str]:
    """What must hold and did not, one sentence each (empty when all is well)."""
    failures: list[str] = []
    for r in reports:
        where = r.name
        if r.hostile.internal_errors:
            failures.append(
                f"{where}: {r.hostile.internal_errors} internal errors on hostile input"
            )
        if r.hostile.unanswered:
            failures.append(f"{where}: {r.hostile.unanswered} hostile cases got no answer")
        failures += [
            f"{where}: fault '{f.name}' not survived"
            for f in r.faults
            if f.unsupported is None and not f.survived
        ]
        failures += [
            f"{where}: {f.name}: {f.writes_stored} posts whose member was told the database "
            "was unavailable were stored once the fault ended"
            for f in r.faults
            if f.writes_stored
        ]
        if r.crash.lost or r.crash.duplicated:
            failures.append(
                f"{where}: kill -9 lost {r.crash.lost} confirmed posts, "
                f"stored {r.crash.duplicated} twice"
            )
        failures += [f"{where}: kill -9: {p}" for p in r.crash.problems[:3]]
        if not r.crash.served_after:
            failures.append(f"{where}: the restarted bot did not serve again")
        if r.deadline_misses:
            failures.append(f"{where}: {r.deadline_misses} deadline misses")
        if r.internal_errors:
            failures.append(f"{where}: {r.internal_errors} internal errors in the whole run")
        if r.rejected_bodies or r.pings:
            failures.append(f"{where}: {r.rejected_bodies} refused bodies, {r.pings} pings")
        if not r.clean_exit:
            failures.append(f"{where}: the bot did not stop cleanly on SIGTERM")
        failures += [f"{where}: {p}" for p in r.problems]
    return failures
