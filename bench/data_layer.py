"""The data layer against the strongest honest use of the raw driver, on the same SQL.

Four measurements, each a ratio to a baseline taken in the same run:

- **Single statements** (a profile, a page of posts, publishing a post), one at a time and
  50 at once, through ``bot.db`` and through the bare driver running the very SQL that
  SQLAlchemy compiled for ``bot.db``. The baseline is strong: aiosqlite's
  ``execute_fetchall`` (one hand-off to the connection's thread) on a writer and as many
  readers as ``bot.db`` has, with the same PRAGMAs; an asyncpg pool of the same size whose
  connections are not reset on release. The two sides alternate round by round, and the
  CPU time each operation spends on the event loop's thread is printed for both.
- **Composed units**: what one unit of several statements costs in hand-offs (SQLite) or
  round trips (PostgreSQL).
- **Bulk insert**: ``add_many_users`` of 100,000 rows, validation included, against
  ``sqlite3``'s ``executemany`` in one transaction (asyncpg's on PostgreSQL).
- **Growth**: a profile and a page of posts for a member with 100,000 of 1,000,000 posts,
  against the same for a member with 100 of 1,000 (two databases, measured in alternating
  rounds, as for the world below); and the world growing around a member with
  10 posts: a ``/myposts`` page at 1,000,000 posts and 100 guilds of 1,000 members, against
  the same page at 1,000 posts and 100 members (two databases, measured in alternating
  rounds), and beside it an unfiltered ``/mod users`` page (keyset on ``(guild_id, name,
  id)``) in the same two worlds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite
import asyncpg

from bot.db import Database
from bot.db import posts as post_queries
from bot.db import users as user_queries
from bot.db.database import DEFAULT_DEADLINE_SECONDS, POSTGRES_POOL_SIZE, SQLITE_READERS
from bot.db.migrate import upgrade
from bot.db.statements import Prepared, Query
from bot.db.types import utcnow
from bot.services.content import MEMBERS_PER_PAGE

GUILD = 1
MEMBERS = 1000
CONCURRENCY = 50
SINGLE_GOAL = 0.5
BULK_GOAL = 0.4
GROWTH_GOAL = 1.5
BULK_ROWS = 100_000
# The world growth: from 1,000 posts of 100 members (one guild) to 1,000,000 posts of 100
# guilds of 1,000 members, every member with the same 10 posts.
WORLD_GUILDS = 100
WORLD_MEMBERS = 1_000
SMALL_MEMBERS = 100
POSTS_EACH = 10
WORLD_GUILD_BASE = 5_000

# The unfiltered /mod users page measured beside it: a keyset page on (guild_id, name, id)
# from the middle of the name order, as Next serves it (one more row than the page shows).
MOD_USERS_AFTER = ("member 5", 0)


def mod_users_page(guild: int) -> Query[list[Any]]:
    """The query behind an unfiltered /mod users page after a cursor mid-way through a guild."""
    return user_queries.list_members(guild, after=MOD_USERS_AFTER, limit=MEMBERS_PER_PAGE + 1)


Call = Callable[[int], Awaitable[Any]]


@dataclass
class Comparison:
    """One operation at one concurrency: both sides' rates, loop CPU, and their ratio."""

    operation: str
    concurrency: int
    data_layer_per_s: float
    driver_per_s: float
    data_layer_loop_us: float | None = None
    driver_loop_us: float | None = None
    goal: float = SINGLE_GOAL

    @property
    def ratio(self) -> float:
        return self.data_layer_per_s / self.driver_per_s

    @property
    def met(self) -> bool:
        return self.ratio >= self.goal


@dataclass
class UnitCost:
    """What one composed unit sends to the driver."""

    unit: str
    statements: int
    driver_calls: int


@dataclass
class Growth:
    """One operation's cost for a heavy member of a big database over a small one's."""

    operation: str
    small_us: float
    large_us: float
    goal: float = GROWTH_GOAL

    @property
    def ratio(self) -> float:
        return self.large_us / self.small_us

    @property
    def met(self) -> bool:
        return self.ratio <= self.goal


@dataclass
class DataResults:
    single: list[Comparison]
    units: list[UnitCost]
    bulk: Comparison
    growth: list[Growth]
    world_growth: list[Growth] = field(default_factory=list)


def _sqlite_stamp(moment: datetime) -> str:
    # What SQLAlchemy's SQLite DateTime stores: naive UTC text with microseconds.
    return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


class StrongDriver:
    """The bare driver, used as well as it can be: one hand-off or round trip per statement."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.sqlite = db.is_sqlite
        self.writer: aiosqlite.Connection | None = None
        self.readers: list[aiosqlite.Connection] = []
        self.pending: list[int] = []
        self.pool: asyncpg.Pool | None = None

    async def __aenter__(self) -> StrongDriver:
        if self.sqlite:
            path = self.db.url.database or ""
            self.writer = await self._open(path)
            for _ in range(SQLITE_READERS):
                self.readers.append(await self._open(path))
            self.pending = [0] * len(self.readers)
        else:
            dsn = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)

            async def keep(_connection: asyncpg.Connection) -> None:
                return None

            self.pool = await asyncpg.create_pool(
                dsn, min_size=POSTGRES_POOL_SIZE, max_size=POSTGRES_POOL_SIZE, reset=keep
            )
        return self

    @staticmethod
    async def _open(path: str) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(path, isolation_level=None)
        for pragma in ("foreign_keys=ON", "synchronous=NORMAL"):
            await connection.execute(f"PRAGMA {pragma}")
        await connection.execute(f"PRAGMA busy_timeout={round(DEFAULT_DEADLINE_SECONDS * 1000)}")
        return connection

    async def __aexit__(self, *exc: object) -> None:
        for connection in [c for c in [self.writer, *self.readers] if c is not None]:
            await connection.close()
        if self.pool is not None:
            await self.pool.close()

    async def read(self, sql: str, args: Sequence[Any]) -> Any:
        if self.pool is not None:
            return await self.pool.fetch(sql, *args)
        index = min(range(len(self.readers)), key=self.pending.__getitem__)
        self.pending[index] += 1
        try:
            return await self.readers[index].execute_fetchall(sql, args)
        finally:
            self.pending[index] -= 1

    async def write(self, sql: str, args: Sequence[Any]) -> Any:
        if self.pool is not None:
            return await self.pool.fetch(sql, *args)
        assert self.writer is not None
        # One connection, calls queued in order, each statement committing by itself.
        return await self.writer.execute_fetchall(sql, args)


async def _rate(call: Call, concurrency: int, seconds: float, start: int) -> tuple[float, float]:
    """Operations per second, and event-loop CPU microseconds per operation."""
    done = 0
    cpu = time.thread_time()
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        await asyncio.gather(*(call(start + done + j) for j in range(concurrency)))
        done += concurrency
    elapsed = time.perf_counter() - began
    return done / elapsed, (time.thread_time() - cpu) / done * 1e6


async def compare(
    operation: str, ours: Call, raw: Call, concurrency: int, *, rounds: int, seconds: float
) -> Comparison:
    mine: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for i in range(rounds):
        # Alternate which side goes first, so neither always gets the warmer machine.
        order = [(ours, mine), (raw, theirs)] if i % 2 == 0 else [(raw, theirs), (ours, mine)]
        for call, results in order:
            results.append(await _rate(call, concurrency, seconds, i * 100_000))
    return Comparison(
        operation,
        concurrency,
        statistics.median(r for r, _ in mine),
        statistics.median(r for r, _ in theirs),
        statistics.median(c for _, c in mine) if concurrency == 1 else None,
        statistics.median(c for _, c in theirs) if concurrency == 1 else None,
    )


@contextlib.asynccontextmanager
async def _prepared(url: str) -> AsyncIterator[Database]:
    await upgrade(url)
    db = Database(url)
    members = [(i, f"member{i}", 30) for i in range(MEMBERS)]
    await db.write_one(user_queries.add_many_users(GUILD, members))
    for i in range(MEMBERS):
        await db.write_one(post_queries.add_post(GUILD, i, f"first post of {i}", "text " * 20))
    try:
        yield db
    finally:
        await db.close()


def _ordered(prepared: Prepared, values: dict[str, Any]) -> tuple[Any, ...]:
    """Raw parameter values in the order the compiled statement takes them."""
    merged = {**prepared.defaults, **values}
    return tuple(merged[name] for name in prepared.names)


async def bench_single(db: Database, *, rounds: int, seconds: float) -> list[Comparison]:
    profile = user_queries.get_user(GUILD, 0).statement.prepare(db.dialect)
    page = post_queries.get_posts_page(GUILD, 0, limit=6).statement.prepare(db.dialect)
    publish = post_queries.add_post(GUILD, 0, "benchmark").statement.prepare(db.dialect)
    sqlite = db.is_sqlite
    newest = 2**63 - 1
    body = "text " * 20
    results: list[Comparison] = []
    async with StrongDriver(db) as raw:

        def raw_profile(i: int) -> Awaitable[Any]:
            values = {"guild_id": GUILD, "discord_id": i % MEMBERS}
            return raw.read(profile.sql, _ordered(profile, values))

        def raw_page(i: int) -> Awaitable[Any]:
            values = {"guild_id": GUILD, "discord_id": i % MEMBERS, "cursor": newest, "limit": 6}
            return raw.read(page.sql, _ordered(page, values))

        def raw_publish(i: int) -> Awaitable[Any]:
            now = utcnow()
            values = {
                "guild_id": GUILD,
                "discord_id": i % MEMBERS,
                "title": "benchmark",
                "body": body,
                "now": _sqlite_stamp(now) if sqlite else now,
            }
            return raw.write(publish.sql, _ordered(publish, values))

        operations: list[tuple[str, Call, Call]] = [
            (
                "profile",
                lambda i: db.read_one(user_queries.get_user(GUILD, i % MEMBERS)),
                raw_profile,
            ),
            (
                "posts page",
                lambda i: db.read_one(post_queries.get_posts_page(GUILD, i % MEMBERS, limit=6)),
                raw_page,
            ),
            (
                "publish",
                lambda i: db.write_one(
                    post_queries.add_post(GUILD, i % MEMBERS, "benchmark", body)
                ),
                raw_publish,
            ),
        ]
        for name, ours, theirs in operations:
            for concurrency in (1, CONCURRENCY):
                results.append(
                    await compare(name, ours, theirs, concurrency, rounds=rounds, seconds=seconds)
                )
    return results


async def bench_units(db: Database) -> list[UnitCost]:
    costs: list[UnitCost] = []

    async def measure(name: str, statements: int, work: Callable[[], Awaitable[Any]]) -> None:
        before = db.stats.driver_calls
        await work()
        costs.append(UnitCost(name, statements, db.stats.driver_calls - before))

    async def two_posts() -> None:
        async with db.write() as unit:
            await unit.run(post_queries.add_post(GUILD, 1, "one"))
            await unit.run(post_queries.add_post(GUILD, 1, "two"))

    async def profile_and_page() -> None:
        async with db.read() as unit:
            await unit.run(user_queries.get_user(GUILD, 1))
            await unit.run(post_queries.get_posts_page(GUILD, 1))

    await measure("one read", 1, lambda: db.read_one(user_queries.get_user(GUILD, 1)))
    await measure("one write", 1, lambda: db.write_one(post_queries.add_post(GUILD, 1, "x")))
    await measure("read unit of 2", 2, profile_and_page)
    await measure("write unit of 2", 2, two_posts)
    return costs


async def bench_bulk(db: Database, *, rounds: int = 3) -> Comparison:
    """add_many_users of 100,000 rows against the driver's own executemany."""
    statement = user_queries.add_many_users(GUILD, []).statement
    prepared = statement.prepare(db.dialect)
    ours: list[float] = []
    theirs: list[float] = []
    guild = 10_000
    for _ in range(rounds):
        guild += 2
        rows = [(i, f"member {i}", 20 + i % 80) for i in range(BULK_ROWS)]
        started = time.perf_counter()
        await db.write_one(user_queries.add_many_users(guild, rows))
        ours.append(BULK_ROWS / (time.perf_counter() - started))
        theirs.append(await _raw_bulk(db, prepared, guild + 1))
    return Comparison(
        "add_many_users 100k",
        1,
        statistics.median(ours),
        statistics.median(theirs),
        goal=BULK_GOAL,
    )


async def _raw_bulk(db: Database, prepared: Prepared, guild: int) -> float:
    """Rows per second of the bare driver inserting the same rows in one transaction.

    The rows are built as plain tuples in the statement's order, as a hand-written loader
    would, and that building is timed too (``bot.db`` builds and checks its rows as well).
    """
    # PostgreSQL's numbered parameters name "now" once; SQLite's question marks twice.
    order = ("guild_id", "discord_id", "name", "age", "post_count", "now")
    assert prepared.names in (order, (*order, "now")), prepared.names
    now = utcnow()
    if db.is_sqlite:
        connection = sqlite3.connect(db.url.database or "", isolation_level=None)
        connection.execute("PRAGMA synchronous=NORMAL")
        try:
            started = time.perf_counter()
            stamp = _sqlite_stamp(now)
            batch = [(guild, i, f"member {i}", 30, 0, stamp, stamp) for i in range(BULK_ROWS)]
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(prepared.sql, batch)
            connection.execute("COMMIT")
            return BULK_ROWS / (time.perf_counter() - started)
        finally:
            connection.close()
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pg = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        rows = [(guild, i, f"member {i}", 30, 0, now) for i in range(BULK_ROWS)]
        async with pg.transaction():
            await pg.executemany(prepared.sql, rows)
        return BULK_ROWS / (time.perf_counter() - started)
    finally:
        await pg.close()


async def _per_op_us(call: Call, count: int) -> float:
    for i in range(50):  # warm caches and prepared statements
        await call(i)
    started = time.perf_counter()
    for i in range(count):
        await call(i)
    return (time.perf_counter() - started) / count * 1e6


async def bench_growth(
    small_url: str, large_url: str, *, rounds: int = 6, samples: int = 500
) -> list[Growth]:
    """A profile and a page for a member with 100 of 1,000 posts, against one with 100,000
    of 1,000,000: two databases, measured in alternating rounds (see ``_alternating``)."""
    guild = 77
    heavy = 0
    small, large = Database(small_url), Database(large_url)
    try:
        for db, url, total in ((small, small_url, 1_000), (large, large_url, 1_000_000)):
            await upgrade(url)
            await db.write_one(
                user_queries.add_many_users(guild, [(i, f"m{i}", 30) for i in range(1000)])
            )
            await _load_posts(db, guild, total=total, heavy=total // 10)

        def calls(db: Database) -> list[Call]:
            return [
                lambda _i: db.read_one(user_queries.get_user(guild, heavy)),
                lambda _i: db.read_one(post_queries.get_posts_page(guild, heavy, limit=6)),
            ]

        return await _alternating(
            ["/profile", "/myposts page"], calls(small), calls(large), rounds, samples
        )
    finally:
        await small.close()
        await large.close()


async def _alternating(
    names: list[str], small: list[Call], large: list[Call], rounds: int, samples: int
) -> list[Growth]:
    """Each call on the small and the large database, round by round in turn (which goes
    first alternating), the median round of each: the machine's noise, and the background
    work a big load leaves (checkpoints, autovacuum), then fall on both sides alike."""
    timings: dict[str, list[list[float]]] = {
        "small": [[] for _ in names],
        "large": [[] for _ in names],
    }
    worlds = {"small": small, "large": large}
    for round_ in range(rounds):
        order = ("small", "large") if round_ % 2 == 0 else ("large", "small")
        for world in order:
            for index, call in enumerate(worlds[world]):
                timings[world][index].append(await _per_op_us(call, samples))
    return [
        Growth(
            name,
            statistics.median(timings["small"][index]),
            statistics.median(timings["large"][index]),
        )
        for index, name in enumerate(names)
    ]


async def _load_posts(db: Database, guild: int, *, total: int, heavy: int) -> None:
    """Add ``total`` posts in bulk, ``heavy`` of them by member 0 (ids 1..1000 own them)."""
    owners = [1] * heavy + [2 + i % 999 for i in range(total - heavy)]
    await _insert_posts(db, [(owner, guild) for owner in owners])


async def _insert_posts(db: Database, owners: Sequence[tuple[int, int]]) -> None:
    """One post for each ``(users.id, guild_id)``, in bulk and in one transaction (the
    post-count triggers run as for any insert), then ANALYZE."""
    now = utcnow()
    if db.is_sqlite:
        stamp = _sqlite_stamp(now)
        rows = [
            (owner, guild, f"post {n}", "text " * 10, stamp)
            for n, (owner, guild) in enumerate(owners)
        ]
        connection = sqlite3.connect(db.url.database or "", isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT INTO posts (user_id, guild_id, title, body, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            connection.execute("COMMIT")
            connection.execute("ANALYZE")
        finally:
            connection.close()
        return
    records = [
        (owner, guild, f"post {n}", "text " * 10, now) for n, (owner, guild) in enumerate(owners)
    ]
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pg = await asyncpg.connect(dsn)
    try:
        await pg.copy_records_to_table(
            "posts", records=records, columns=["user_id", "guild_id", "title", "body", "created_at"]
        )
        await pg.execute("ANALYZE")
    finally:
        await pg.close()


async def _user_ids(db: Database, guild: int, first: int, count: int) -> list[int]:
    """The ``users.id`` of members ``first`` to ``first + count - 1`` (by Discord id) of a guild."""
    args = (guild, first, first + count)
    if db.is_sqlite:
        connection = sqlite3.connect(db.url.database or "")
        try:
            found = connection.execute(
                "SELECT id FROM users WHERE guild_id = ? AND discord_id >= ? AND discord_id < ? "
                "ORDER BY discord_id",
                args,
            )
            return [row[0] for row in found]
        finally:
            connection.close()
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pg = await asyncpg.connect(dsn)
    try:
        rows = await pg.fetch(
            "SELECT id FROM users WHERE guild_id = $1 AND discord_id >= $2 AND discord_id < $3 "
            "ORDER BY discord_id",
            *args,
        )
        return [row[0] for row in rows]
    finally:
        await pg.close()


async def _add_members(db: Database, guild: int, first: int, count: int) -> None:
    """Members ``first``… of a guild, each with ``POSTS_EACH`` posts."""
    await db.write_one(
        user_queries.add_many_users(
            guild, [(i, f"member {i}", 30) for i in range(first, first + count)]
        )
    )
    ids = await _user_ids(db, guild, first, count)
    await _insert_posts(db, [(user, guild) for user in ids for _ in range(POSTS_EACH)])


async def bench_world_growth(
    small_url: str, large_url: str, *, rounds: int = 6, samples: int = 500
) -> list[Growth]:
    """A /myposts page of a member with 10 posts in a guild of 100 members, in a world of
    1,000 posts, against the same in a guild of 1,000 members, one of 100, in a world of
    1,000,000 posts. Two databases, measured round by round in turn (which goes first
    alternating), the median round of each: this machine's noise then falls on both."""
    guild = WORLD_GUILD_BASE
    small, large = Database(small_url), Database(large_url)
    try:
        await upgrade(small_url)
        await _add_members(small, guild, 0, SMALL_MEMBERS)
        await upgrade(large_url)
        for other in range(WORLD_GUILDS):
            await _add_members(large, guild + other, 0, WORLD_MEMBERS)

        def calls(db: Database) -> list[Call]:
            return [
                lambda _i: db.read_one(post_queries.get_posts_page(guild, 0, limit=6)),
                lambda _i: db.read_one(mod_users_page(guild)),
            ]

        return await _alternating(
            ["/myposts page", "/mod users page"], calls(small), calls(large), rounds, samples
        )
    finally:
        await small.close()
        await large.close()


async def bench_data_layer(
    url: str,
    growth_urls: tuple[str, str],
    world_urls: tuple[str, str],
    *,
    rounds: int = 5,
    seconds: float = 0.6,
) -> DataResults:
    async with _prepared(url) as db:
        single = await bench_single(db, rounds=rounds, seconds=seconds)
        units = await bench_units(db)
        bulk = await bench_bulk(db)
    growth = await bench_growth(*growth_urls)
    world = await bench_world_growth(*world_urls)
    return DataResults(single, units, bulk, growth, world)


def _mark(met: bool) -> str:
    return "yes" if met else "NO"


def data_table(results: dict[str, DataResults]) -> str:
    """The comparisons as text tables, each figure beside its goal."""
    lines = [
        f"{'backend':<11}{'operation':<21}{'at once':>8}{'bot.db /s':>11}{'driver /s':>11}"
        f"{'×':>7}{'goal':>7}{'met':>5}{'loop µs':>9}{'raw µs':>8}"
    ]
    for backend, result in results.items():
        for c in [*result.single, result.bulk]:
            loop = f"{c.data_layer_loop_us:>9.1f}" if c.data_layer_loop_us is not None else " " * 9
            raw = f"{c.driver_loop_us:>8.1f}" if c.driver_loop_us is not None else " " * 8
            lines.append(
                f"{backend:<11}{c.operation:<21}{c.concurrency:>8}{c.data_layer_per_s:>11.0f}"
                f"{c.driver_per_s:>11.0f}{c.ratio:>7.2f}{'≥' + format(c.goal, '.1f'):>7}"
                f"{_mark(c.met):>5}{loop}{raw}"
            )
    lines.append(
        "(× = bot.db's rate over the strong raw driver's on the same SQL, alternating rounds;"
        " loop µs = event-loop CPU per operation, one at a time)"
    )
    lines.append("")
    lines.append(f"{'backend':<11}{'composed unit':<18}{'statements':>11}{'driver calls':>14}")
    for backend, result in results.items():
        for u in result.units:
            lines.append(f"{backend:<11}{u.unit:<18}{u.statements:>11}{u.driver_calls:>14}")
    lines.append("(driver calls = hand-offs to SQLite's threads, or round trips to PostgreSQL)")
    lines.append("")
    lines.append(
        f"{'backend':<11}{'at 1M posts':<15}{'1k µs':>8}{'1M µs':>8}{'×':>7}{'goal':>7}{'met':>5}"
    )
    for backend, result in results.items():
        for g in result.growth:
            lines.append(
                f"{backend:<11}{g.operation:<15}{g.small_us:>8.1f}{g.large_us:>8.1f}"
                f"{g.ratio:>7.2f}{'≤' + format(g.goal, '.1f'):>7}{_mark(g.met):>5}"
            )
    lines.append("(a member with 100,000 of 1,000,000 posts over one with 100 of 1,000)")
    lines.append("")
    lines.append(
        f"{'backend':<11}{'world grows':<17}{'small µs':>9}{'large µs':>9}{'×':>7}{'goal':>7}"
        f"{'met':>5}"
    )
    for backend, result in results.items():
        for g in result.world_growth:
            lines.append(
                f"{backend:<11}{g.operation:<17}{g.small_us:>9.1f}{g.large_us:>9.1f}"
                f"{g.ratio:>7.2f}{'≤' + format(g.goal, '.1f'):>7}{_mark(g.met):>5}"
            )
    lines.append(
        "(a member with 10 posts: 1,000,000 posts in 100 guilds of 1,000 members over 1,000 "
        "posts of 100 members)"
    )
    return "\n".join(lines)
