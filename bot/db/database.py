"""The ``Database``: long-lived driver connections, and units of work that run queries.

Statements are built and compiled by SQLAlchemy (``bot.db.statements``) and executed here
on connections this object owns: aiosqlite connections for SQLite, an asyncpg pool for
PostgreSQL. There are two kinds of unit of work:

- ``await db.read_one(query)`` / ``await db.write_one(query)``: a unit holding exactly one
  statement. A single statement is atomic and sees one snapshot on both databases, so it
  runs in autocommit: one call into SQLite's thread, or one round trip to PostgreSQL.
- ``async with db.read() as unit`` / ``async with db.write() as unit``: a unit holding several
  statements (``await unit.run(query)``). A read unit sees one snapshot (SQLite: one read
  transaction; PostgreSQL: ``REPEATABLE READ, READ ONLY``); a write unit commits when the
  block ends and rolls back if it raises.

SQLite: one writer connection and a few reader connections, each with its own thread (WAL
lets readers run beside the writer). Writers never share a transaction: single-statement
writes queue on the writer's thread in order, each committing by itself, and a multi-
statement write unit holds an in-process lock from ``BEGIN IMMEDIATE`` to ``COMMIT`` so no
other statement can slip into it. Every blocking call (I/O, lock and busy waits,
checkpoints) happens on those threads, never on the event loop.

PostgreSQL: an asyncpg pool whose connections are not reset on release (the bot keeps no
session state: no ``SET``, no session-level advisory lock, no ``LISTEN``), so returning a
connection costs no round trip.

Driver errors become ``bot.db.errors`` classes by their codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite
import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, Dialect, make_url

from bot.db.errors import (
    DatabaseError,
    DatabaseUnavailable,
    ForeignKeyViolation,
    UniqueViolation,
)
from bot.db.statements import Prepared, Query, Row

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_READERS = 3
POSTGRES_POOL_SIZE = 10

StatementListener = Callable[[str], None]


@dataclass
class UnitStats:
    """What the units of work of one ``Database`` cost so far (for benchmarks and health)."""

    units: int = 0
    # Hand-offs to SQLite's threads, or round trips to PostgreSQL (BEGIN and COMMIT included).
    driver_calls: int = 0
    # Wall time spent inside units of work, waiting for the database included.
    seconds: float = 0.0


def is_sqlite(url: str | URL) -> bool:
    """Whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database or another backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class Unit(Protocol):
    """A unit of work in progress: the queries it runs share one transaction."""

    async def run(self, query: Query[T]) -> T: ...


class _Connection(Protocol):
    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]: ...

    async def execute_many(self, sql: str, args: Sequence[Sequence[Any]]) -> None: ...


class _Backend(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def read_one(self, sql: str, args: Sequence[Any]) -> Sequence[Row]: ...

    async def write_one(self, sql: str, args: Sequence[Any]) -> Sequence[Row]: ...

    def read_unit(self) -> contextlib.AbstractAsyncContextManager[_Connection]: ...

    def write_unit(self) -> contextlib.AbstractAsyncContextManager[_Connection]: ...


class Database:
    """Owns the connections and runs queries in units of work."""

    def __init__(
        self,
        url: str | URL,
        *,
        echo: bool = False,
        sqlite_readers: int = SQLITE_READERS,
        pool_size: int = POSTGRES_POOL_SIZE,
    ) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._listeners: list[StatementListener] = []
        if echo:
            self._listeners.append(_echo)
        self.dialect: Dialect
        self._backend: _Backend
        if self.is_sqlite:
            path = sqlite_path(self.url)
            if path is None:
                # Each connection to ":memory:" is a database of its own.
                raise ValueError("Bulletin needs a SQLite file, not an in-memory database")
            self.dialect = SQLiteDialect_aiosqlite()
            self._backend = _SQLite(path, readers=sqlite_readers)
        else:
            self.dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._backend = _Postgres(dsn, pool_size=pool_size)
        self._connected = False
        self._connecting = asyncio.Lock()
        self.stats = UnitStats()

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    def listen(self, listener: StatementListener) -> Callable[[], None]:
        """Call ``listener`` with the SQL of every statement sent; returns the way to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def connect(self) -> None:
        """Open the connections (done on first use anyway); raises DatabaseUnavailable."""
        if self._connected:
            return
        async with self._connecting:
            if not self._connected:
                await self._backend.connect()
                self._connected = True

    async def close(self) -> None:
        """Close every connection; the object can connect again afterwards."""
        async with self._connecting:
            if self._connected:
                self._connected = False
                await self._backend.close()

    dispose = close

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _prepare(self, query: Query[Any]) -> Prepared:
        prepared = query.statement.prepare(self.dialect)
        if self._listeners:
            for listener in self._listeners:
                listener(prepared.sql)
        return prepared

    async def read_one(self, query: Query[T]) -> T:
        """Run one read statement as a unit of its own."""
        if not self._connected:
            await self.connect()
        prepared = self._prepare(query)
        started = time.perf_counter()
        try:
            raw = await self._backend.read_one(prepared.sql, prepared.arguments(query.params))
        finally:
            self._count(started, 1)
        return query.shape(prepared.rows(raw))

    async def write_one(self, query: Query[T]) -> T:
        """Run one write statement as a unit of its own: it commits, or changes nothing."""
        if not self._connected:
            await self.connect()
        if query.many is not None:
            if not query.many:
                return query.shape([])
            async with self.write() as unit:
                return await unit.run(query)
        prepared = self._prepare(query)
        started = time.perf_counter()
        try:
            raw = await self._backend.write_one(prepared.sql, prepared.arguments(query.params))
        finally:
            self._count(started, 1)
        return query.shape(prepared.rows(raw))

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Unit]:
        """A read-only unit of several statements, all seeing one snapshot."""
        if not self._connected:
            await self.connect()
        started = time.perf_counter()
        unit: _UnitOf | None = None
        try:
            async with self._backend.read_unit() as connection:
                unit = _UnitOf(self, connection)
                yield unit
        finally:
            self._count(started, 2 + (unit.statements if unit is not None else 0))

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Unit]:
        """A unit of several statements that commits at the end, or rolls back if it raises."""
        if not self._connected:
            await self.connect()
        started = time.perf_counter()
        unit: _UnitOf | None = None
        try:
            async with self._backend.write_unit() as connection:
                unit = _UnitOf(self, connection)
                yield unit
        finally:
            self._count(started, 2 + (unit.statements if unit is not None else 0))

    def _count(self, started: float, driver_calls: int) -> None:
        stats = self.stats
        stats.units += 1
        stats.driver_calls += driver_calls
        stats.seconds += time.perf_counter() - started

    @staticmethod
    def describe_url(url: str | URL) -> str:
        """The URL with its password hidden, for logs."""
        return make_url(url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"<Database {self.describe_url(self.url)}>"


class _UnitOf:
    """The queries of one unit, all on the unit's connection and transaction."""

    __slots__ = ("_connection", "_db", "statements")

    def __init__(self, db: Database, connection: _Connection) -> None:
        self._db = db
        self._connection = connection
        self.statements = 0

    async def run(self, query: Query[T]) -> T:
        prepared = self._db._prepare(query)
        self.statements += 1
        if query.many is not None:
            batch = prepared.arguments_many(query.many)
            if batch:
                await self._connection.execute_many(prepared.sql, batch)
            return query.shape([])
        raw = await self._connection.fetch(prepared.sql, prepared.arguments(query.params))
        return query.shape(prepared.rows(raw))


def _echo(sql: str) -> None:
    log.info("SQL: %s", " ".join(sql.split()))


# --- SQLite -------------------------------------------------------------------------------

_SQLITE_UNIQUE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def _sqlite_error(error: sqlite3.Error) -> DatabaseError:
    name = getattr(error, "sqlite_errorname", "")
    if name in _SQLITE_UNIQUE:
        return UniqueViolation(str(error))
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return ForeignKeyViolation(str(error))
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_NOTADB")):
        return DatabaseUnavailable(str(error))
    return DatabaseError(str(error))


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


class _SQLiteConnection:
    """One aiosqlite connection (one thread); every call is one hand-off to that thread."""

    __slots__ = ("connection", "held", "pending")

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self.pending = 0  # calls queued or running on its thread
        self.held = False  # a multi-statement unit owns it

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        self.pending += 1
        try:
            return await self.connection.execute_fetchall(sql, args)  # type: ignore[return-value]
        except sqlite3.Error as error:
            raise _sqlite_error(error) from error
        finally:
            self.pending -= 1

    async def execute_many(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        try:
            await self.connection.executemany(sql, args)
        except sqlite3.Error as error:
            raise _sqlite_error(error) from error

    async def finish(self, sql: str) -> None:
        """COMMIT or ROLLBACK, if a transaction is open."""
        if self.connection.in_transaction:
            await self.fetch(sql, ())


class _SQLite:
    def __init__(self, path: Path, *, readers: int) -> None:
        self.path = path
        self.reader_count = max(1, readers)
        self.writer: _SQLiteConnection | None = None
        self.readers: list[_SQLiteConnection] = []
        self.write_lock = asyncio.Lock()
        self.reader_freed = asyncio.Condition()
        self._turn = itertools.count()

    async def _open(self, *, reader: bool) -> _SQLiteConnection:
        # isolation_level=None: no implicit BEGIN; transactions are ours to open.
        connection = await aiosqlite.connect(self.path, isolation_level=None)
        pragmas = [
            "foreign_keys=ON",
            "synchronous=NORMAL",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ]
        if reader:
            pragmas.append("query_only=ON")  # a reader that tried to write would be a bug
        try:
            for pragma in pragmas:
                await connection.execute(f"PRAGMA {pragma}")
            await connection.create_function("unicode_lower", 1, _lower, deterministic=True)
        except BaseException:
            # Its thread would otherwise outlive the failure and keep the process alive.
            await connection.close()
            raise
        return _SQLiteConnection(connection)

    async def connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = await self._open(reader=False)
            await self.writer.fetch("PRAGMA journal_mode=WAL", ())
            self.readers = [await self._open(reader=True) for _ in range(self.reader_count)]
        except (sqlite3.Error, OSError) as error:
            await self.close()
            raise DatabaseUnavailable(f"cannot open {self.path}: {error}") from error

    async def close(self) -> None:
        connections = [c for c in [self.writer, *self.readers] if c is not None]
        self.writer, self.readers = None, []
        for connection in connections:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await connection.connection.close()

    def _writer(self) -> _SQLiteConnection:
        if self.writer is None:
            raise DatabaseUnavailable("the database is closed")
        return self.writer

    def _free_reader(self) -> _SQLiteConnection | None:
        free = [r for r in self.readers if not r.held]
        if not free:
            return None
        # The least busy reader; ties go round in turn so the threads share the work.
        start = next(self._turn) % len(free)
        ordered = free[start:] + free[:start]
        return min(ordered, key=lambda r: r.pending)

    async def read_one(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        reader = self._free_reader()
        while reader is None:
            async with self.reader_freed:
                await self.reader_freed.wait()
            reader = self._free_reader()
        return await reader.fetch(sql, args)

    async def write_one(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        if not self.write_lock.locked():
            # Queued on the writer's thread behind earlier statements, committing by itself.
            return await self._writer().fetch(sql, args)
        async with self.write_lock:
            return await self._writer().fetch(sql, args)

    @contextlib.asynccontextmanager
    async def read_unit(self) -> AsyncIterator[_Connection]:
        reader = self._free_reader()
        while reader is None:
            async with self.reader_freed:
                await self.reader_freed.wait()
            reader = self._free_reader()
        reader.held = True
        try:
            # Statements queued before this BEGIN finish first: the thread runs calls in order.
            await reader.fetch("BEGIN", ())
            try:
                yield reader
            finally:
                await asyncio.shield(reader.finish("ROLLBACK"))
        finally:
            reader.held = False
            async with self.reader_freed:
                self.reader_freed.notify_all()

    @contextlib.asynccontextmanager
    async def write_unit(self) -> AsyncIterator[_Connection]:
        async with self.write_lock:
            writer = self._writer()
            await writer.fetch("BEGIN IMMEDIATE", ())
            try:
                yield writer
            except BaseException:
                await asyncio.shield(writer.finish("ROLLBACK"))
                raise
            try:
                await writer.fetch("COMMIT", ())
            except BaseException:
                await asyncio.shield(writer.finish("ROLLBACK"))
                raise


# --- PostgreSQL ---------------------------------------------------------------------------

_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def _postgres_error(error: BaseException) -> DatabaseError:
    if isinstance(error, asyncpg.UniqueViolationError):
        return UniqueViolation(str(error))
    if isinstance(error, asyncpg.ForeignKeyViolationError):
        return ForeignKeyViolation(str(error))
    if isinstance(error, _PG_UNAVAILABLE):
        return DatabaseUnavailable(f"{type(error).__name__}: {error}")
    return DatabaseError(f"{type(error).__name__}: {error}")


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """The pool's reset hook: nothing to reset, so no round trip on release."""


class _PostgresConnection:
    __slots__ = ("connection",)

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        try:
            return await self.connection.fetch(sql, *args)  # type: ignore[no-any-return]
        except (asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
            raise _postgres_error(error) from error

    async def execute_many(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        try:
            await self.connection.executemany(sql, args)
        except (asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
            raise _postgres_error(error) from error


class _Postgres:
    def __init__(self, dsn: str, *, pool_size: int) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        try:
            self.pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, reset=_keep_session
            )
        except (asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
            raise _postgres_error(error) from error

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise DatabaseUnavailable("the database is closed")
        return self.pool

    async def read_one(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        try:
            return await self._pool().fetch(sql, *args)  # type: ignore[no-any-return]
        except (asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
            raise _postgres_error(error) from error

    write_one = read_one

    @contextlib.asynccontextmanager
    async def _unit(self, **transaction: Any) -> AsyncIterator[_Connection]:
        try:
            async with (
                self._pool().acquire() as connection,
                connection.transaction(**transaction),
            ):
                yield _PostgresConnection(connection)
        except (asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
            raise _postgres_error(error) from error

    def read_unit(self) -> contextlib.AbstractAsyncContextManager[_Connection]:
        return self._unit(isolation="repeatable_read", readonly=True)

    def write_unit(self) -> contextlib.AbstractAsyncContextManager[_Connection]:
        return self._unit()
