"""The data layer against the raw driver, doing the same work on the same database.

For three operations (a profile with its post count, a page of posts, publishing a post) it
times Bulletin's data layer (``bot.db``: a unit of work, SQLAlchemy, the pool) and the raw
driver (aiosqlite or asyncpg, the same SQL on one connection or a small pool), one call at a
time and 50 at once. The two are measured in alternating rounds so that noise on this machine
hits both alike, and the result is their ratio: how far the data layer stays from the
driver's own speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.db.migrate import upgrade
from bot.db.posts import add_post, get_user_posts
from bot.db.types import utcnow
from bot.db.users import add_many_users, get_user_with_post_count

GUILD = 1
MEMBERS = 1000
CONCURRENCY = 50
PROFILE_SQL = (
    "SELECT users.id, users.guild_id, users.discord_id, users.name, users.age, "
    "users.created_at, users.updated_at, "
    "(SELECT count(posts.id) FROM posts WHERE posts.user_id = users.id) "
    "FROM users WHERE users.guild_id = {0} AND users.discord_id = {1}"
)
PAGE_SQL = (
    "SELECT posts.id, posts.user_id, posts.guild_id, posts.title, posts.body, posts.created_at "
    "FROM posts WHERE posts.guild_id = {0} AND posts.user_id = "
    "(SELECT users.id FROM users WHERE users.guild_id = {0} AND users.discord_id = {1}) "
    "ORDER BY posts.id DESC LIMIT 6"
)
POST_SQL = (
    "INSERT INTO posts (user_id, guild_id, title, body, created_at) "
    "SELECT users.id, {0}, {2}, {3}, {4} FROM users "
    "WHERE users.guild_id = {0} AND users.discord_id = {1} "
    "RETURNING posts.id, posts.user_id, posts.guild_id, posts.title, posts.body, posts.created_at"
)

Call = Callable[[int], Awaitable[Any]]


@dataclass
class Comparison:
    """One operation at one concurrency: both sides' rates and their ratio."""

    operation: str
    concurrency: int
    data_layer_per_s: float
    driver_per_s: float

    @property
    def ratio(self) -> float:
        return self.data_layer_per_s / self.driver_per_s


class RawDriver:
    """The same statements through the bare driver (placeholders in its own style)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.sqlite: aiosqlite.Connection | None = None
        self.pool: asyncpg.Pool | None = None
        self.write_lock = asyncio.Lock()

    async def __aenter__(self) -> RawDriver:
        if self.url.get_backend_name() == "sqlite":
            self.sqlite = await aiosqlite.connect(self.url.database or "", isolation_level=None)
            # The same per-connection settings bot.db gives SQLite, so the comparison is fair.
            for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
                await self.sqlite.execute(f"PRAGMA {pragma}")
            await self.sqlite.execute("PRAGMA busy_timeout=30000")
        else:
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sqlite is not None:
            await self.sqlite.close()
        if self.pool is not None:
            await self.pool.close()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if self.sqlite is not None:
            numbered = sql.format(*[f"?{i + 1}" for i in range(len(args))])
            async with self.sqlite.execute(numbered, args) as cursor:
                return list(await cursor.fetchall())
        assert self.pool is not None
        return list(
            await self.pool.fetch(sql.format(*[f"${i + 1}" for i in range(len(args))]), *args)
        )

    async def write(self, sql: str, *args: Any) -> list[Any]:
        if self.sqlite is None:
            return await self.fetch(sql, *args)
        # One shared connection: writes must not interleave inside it.
        async with self.write_lock:
            return await self.fetch(sql, *args)


async def _rate(call: Call, concurrency: int, seconds: float, start: int) -> float:
    done = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        await asyncio.gather(*(call(start + done + j) for j in range(concurrency)))
        done += concurrency
    return done / (time.perf_counter() - began)


async def compare(
    operation: str, ours: Call, raw: Call, concurrency: int, *, rounds: int, seconds: float
) -> Comparison:
    mine: list[float] = []
    theirs: list[float] = []
    for i in range(rounds):
        # Alternate which side goes first, so neither always gets the warmer machine.
        order = [(ours, mine), (raw, theirs)] if i % 2 == 0 else [(raw, theirs), (ours, mine)]
        for call, rates in order:
            rates.append(await _rate(call, concurrency, seconds, i * 100_000))
    return Comparison(operation, concurrency, statistics.median(mine), statistics.median(theirs))


@contextlib.asynccontextmanager
async def _prepared(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    await upgrade(db)
    await add_many_users(db, GUILD, [(i, f"member{i}", 30) for i in range(MEMBERS)])
    for i in range(MEMBERS):
        await add_post(db, GUILD, i, f"first post of {i}", "text " * 20)
    try:
        yield db
    finally:
        await db.dispose()


async def bench_data_layer(url: str, *, rounds: int = 5, seconds: float = 0.6) -> list[Comparison]:
    results: list[Comparison] = []
    async with _prepared(url) as db, RawDriver(url) as raw:
        operations: list[tuple[str, Call, Call]] = [
            (
                "profile",
                lambda i: get_user_with_post_count(db, GUILD, i % MEMBERS),
                lambda i: raw.fetch(PROFILE_SQL, GUILD, i % MEMBERS),
            ),
            (
                "posts page",
                lambda i: get_user_posts(db, GUILD, i % MEMBERS, limit=6),
                lambda i: raw.fetch(PAGE_SQL, GUILD, i % MEMBERS),
            ),
            (
                "publish",
                lambda i: add_post(db, GUILD, i % MEMBERS, "benchmark", "text " * 20),
                lambda i: raw.write(
                    POST_SQL, GUILD, i % MEMBERS, "benchmark", "text " * 20, _stamp(raw)
                ),
            ),
        ]
        for name, ours, theirs in operations:
            for concurrency in (1, CONCURRENCY):
                results.append(
                    await compare(name, ours, theirs, concurrency, rounds=rounds, seconds=seconds)
                )
    return results


def _stamp(raw: RawDriver) -> Any:
    # What UTCDateTime stores: naive UTC text on SQLite, an aware datetime on asyncpg.
    now = utcnow()
    return now.replace(tzinfo=None).isoformat(sep=" ") if raw.sqlite is not None else now


def data_table(results: dict[str, list[Comparison]]) -> str:
    """The comparisons as a text table."""
    lines = [
        f"{'backend':<11}{'operation':<12}{'at once':>8}{'bot.db /s':>11}{'driver /s':>11}{'×':>7}"
    ]
    for backend, comparisons in results.items():
        for c in comparisons:
            lines.append(
                f"{backend:<11}{c.operation:<12}{c.concurrency:>8}{c.data_layer_per_s:>11.0f}"
                f"{c.driver_per_s:>11.0f}{c.ratio:>7.2f}"
            )
    lines.append("(× = the data layer's rate over the raw driver's, same SQL, alternating rounds)")
    return "\n".join(lines)
