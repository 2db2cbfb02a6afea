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

Every unit has a deadline: the one set for the current task by ``deadline_in(seconds)``
(the bot sets it from each interaction's receipt), else ``UNATTENDED_SECONDS`` from now for
work nobody waits on (start-up, bulk loads, tools). Waits for a connection, a pool slot or
the write lock fall inside it; past it the unit raises ``DatabaseUnavailable``. What is cut
short never half-happens, and replies tell the truth:

- a multi-statement unit is rolled back after whatever statement was in flight;
- a single SQLite write is started by SQLite's thread only before its deadline, and once
  started is not abandoned (``busy_timeout``, no longer than the deadline, bounds it);
- a PostgreSQL connection whose statement overran is terminated, not reused, since on a
  stalled network neither a ROLLBACK nor a cancel request would arrive (the server then
  rolls back an open transaction through ``idle_in_transaction_session_timeout`` and the
  TCP keepalives each connection sets). But a single write (autocommit) or a COMMIT that
  was sent may still commit when its bytes arrive late, and no client can know: those
  raise ``WriteOutcomeUnknown``, a ``DatabaseUnavailable`` whose reply says the change is
  unconfirmed rather than failed.

An outage is logged once when it starts and once when it ends, with its length; nothing
needs a restart when the database is back.

Driver errors become ``bot.db.errors`` classes by their codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
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
    WriteOutcomeUnknown,
)
from bot.db.statements import Prepared, Query, Row

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_DEADLINE_SECONDS = 2.0
UNATTENDED_SECONDS = 30.0
SQLITE_READERS = 3
POSTGRES_POOL_SIZE = 10
# After a refused statement inside a unit, how long the ROLLBACK may take before the
# connection is given up instead.
ROLLBACK_SECONDS = 1.0
# A transaction whose client vanished is rolled back by the server after this long.
POSTGRES_IDLE_IN_TRANSACTION_MS = 10_000
# Server-side keepalives: a silent client is noticed within about 10 + 3 × 5 seconds.
POSTGRES_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}

# The absolute event-loop time by which units of work started in this context must finish.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "bulletin_database_deadline", default=None
)


@contextlib.contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Units of work started inside the block must finish ``seconds`` from now."""
    token = _deadline.set(asyncio.get_running_loop().time() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


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

    async def read_one(self, sql: str, args: Sequence[Any], when: float) -> Sequence[Row]: ...

    async def write_one(self, sql: str, args: Sequence[Any], when: float) -> Sequence[Row]: ...

    def read_unit(self, when: float) -> contextlib.AbstractAsyncContextManager[_Connection]: ...

    def write_unit(self, when: float) -> contextlib.AbstractAsyncContextManager[_Connection]: ...


class Database:
    """Owns the connections and runs queries in units of work."""

    def __init__(
        self,
        url: str | URL,
        *,
        echo: bool = False,
        sqlite_readers: int = SQLITE_READERS,
        pool_size: int = POSTGRES_POOL_SIZE,
        deadline: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        """``deadline`` bounds what a member's command may wait for: SQLite's busy_timeout,
        a new PostgreSQL connection (the deadline of each unit comes from ``deadline_in``)."""
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
            self._backend = _SQLite(path, readers=sqlite_readers, busy_timeout=deadline)
        else:
            self.dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._backend = _Postgres(dsn, pool_size=pool_size, connect_timeout=deadline)
        self._connected = False
        self._connecting = asyncio.Lock()
        self.stats = UnitStats()
        self._outage_since: float | None = None

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

    def _deadline(self) -> float:
        when = _deadline.get()
        if when is not None:
            return when
        return asyncio.get_running_loop().time() + UNATTENDED_SECONDS

    @contextlib.asynccontextmanager
    async def _guarded(self, driver_calls: Callable[[], int]) -> AsyncIterator[None]:
        """Count the unit, turn a missed deadline into DatabaseUnavailable, track outages."""
        started = time.perf_counter()
        try:
            if not self._connected:
                await self.connect()
            yield
        except TimeoutError as error:
            self._outage("no answer before the deadline")
            raise DatabaseUnavailable("the database did not answer in time") from error
        except DatabaseUnavailable as error:
            self._outage(str(error))
            raise
        except Exception:
            # It answered, even if with a refusal or the caller's own error.
            if self._outage_since is not None:
                self._recovered()
            raise
        else:
            if self._outage_since is not None:
                self._recovered()
        finally:
            stats = self.stats
            stats.units += 1
            stats.driver_calls += driver_calls()
            stats.seconds += time.perf_counter() - started

    def _outage(self, reason: str) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "The database at %s is unavailable (%s); commands will say so until it answers",
                self.describe_url(self.url),
                reason,
            )

    def _recovered(self) -> None:
        assert self._outage_since is not None
        length = time.monotonic() - self._outage_since
        self._outage_since = None
        log.warning(
            "The database at %s answers again after %.1f s", self.describe_url(self.url), length
        )

    async def read_one(self, query: Query[T]) -> T:
        """Run one read statement as a unit of its own."""
        prepared = self._prepare(query)
        args = prepared.arguments(query.params)
        async with self._guarded(lambda: 1):
            raw = await self._backend.read_one(prepared.sql, args, self._deadline())
        return query.shape(prepared.rows(raw))

    async def write_one(self, query: Query[T]) -> T:
        """Run one write statement as a unit of its own: it commits, or changes nothing."""
        if query.many is not None:
            if not query.many:
                return query.shape([])
            async with self.write() as unit:
                return await unit.run(query)
        prepared = self._prepare(query)
        args = prepared.arguments(query.params)
        async with self._guarded(lambda: 1):
            raw = await self._backend.write_one(prepared.sql, args, self._deadline())
        return query.shape(prepared.rows(raw))

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Unit]:
        """A read-only unit of several statements, all seeing one snapshot."""
        units: list[_UnitOf] = []
        async with (
            self._guarded(lambda: 2 + sum(u.statements for u in units)),
            self._backend.read_unit(self._deadline()) as connection,
        ):
            units.append(_UnitOf(self, connection))
            yield units[0]

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Unit]:
        """A unit of several statements that commits at the end, or rolls back if it raises."""
        units: list[_UnitOf] = []
        async with (
            self._guarded(lambda: 2 + sum(u.statements for u in units)),
            self._backend.write_unit(self._deadline()) as connection,
        ):
            units.append(_UnitOf(self, connection))
            yield units[0]

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
# Locked by another process past busy_timeout, or a file that cannot be read or written.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_NOTADB",
    "SQLITE_READONLY",
    "SQLITE_FULL",
    "SQLITE_CORRUPT",
)


def _sqlite_error(error: sqlite3.Error) -> DatabaseError:
    name = getattr(error, "sqlite_errorname", "")
    if name in _SQLITE_UNIQUE:
        return UniqueViolation(str(error))
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return ForeignKeyViolation(str(error))
    if name.startswith(_SQLITE_UNAVAILABLE):
        return DatabaseUnavailable(f"{name}: {error}")
    return DatabaseError(str(error))


class _Expired(Exception):
    """SQLite's thread reached a statement after its deadline and did not start it."""


def _fetch_before(
    connection: sqlite3.Connection, when: float, sql: str, args: Sequence[Any]
) -> list[Any]:
    # Runs on the connection's thread; the event loop's clock is time.monotonic().
    if time.monotonic() > when:
        raise _Expired
    return connection.execute(sql, args).fetchall()


async def _run_in_thread(
    connection: aiosqlite.Connection, function: Callable[..., list[Any]], *args: Any
) -> list[Any]:
    """Run ``function(sqlite3_connection, *args)`` on the aiosqlite connection's thread.

    aiosqlite's public methods each run one fixed call there; ``_execute`` is the primitive
    behind all of them (pinned version; tests/test_database.py checks it is still there).
    """
    try:
        result: list[Any] = await connection._execute(  # type: ignore[no-untyped-call]
            function, connection._conn, *args
        )
    except _Expired:
        raise DatabaseUnavailable("the database did not answer in time") from None
    return result


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

    async def fetch_before(self, sql: str, args: Sequence[Any], when: float) -> Sequence[Row]:
        """One autocommit statement that SQLite's thread starts only before ``when``.

        Writes queue on the thread; one stuck behind another process's lock must not start
        after its member was told the database is unavailable. So the thread checks the
        deadline when it reaches the statement, and once started the statement is not
        abandoned (busy_timeout bounds it): its result is the truth the reply tells.
        """
        self.pending += 1
        try:
            return await _run_in_thread(self.connection, _fetch_before, when, sql, args)
        except sqlite3.Error as error:
            raise _sqlite_error(error) from error
        finally:
            self.pending -= 1

    async def execute_many(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        try:
            await self.connection.executemany(sql, args)
        except sqlite3.Error as error:
            raise _sqlite_error(error) from error

    async def roll_back(self) -> None:
        """ROLLBACK if a transaction is open, after every call queued before it.

        Shielded: it must run even when the unit was cancelled, or a BEGIN that finished
        late would leave the connection inside a transaction.
        """
        with contextlib.suppress(sqlite3.Error):
            await asyncio.shield(self.connection.rollback())


class _SQLite:
    def __init__(self, path: Path, *, readers: int, busy_timeout: float) -> None:
        self.path = path
        self.reader_count = max(1, readers)
        self.busy_timeout_ms = max(1, round(busy_timeout * 1000))
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
            # Waiting for another process's lock happens on this thread, bounded like a unit.
            f"busy_timeout={self.busy_timeout_ms}",
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
        except (sqlite3.Error, OSError, DatabaseError) as error:
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

    async def _reader(self) -> _SQLiteConnection:
        reader = self._free_reader()
        while reader is None:
            async with self.reader_freed:
                await self.reader_freed.wait()
            reader = self._free_reader()
        return reader

    async def read_one(self, sql: str, args: Sequence[Any], when: float) -> Sequence[Row]:
        # A read abandoned at the deadline finishes harmlessly on its thread.
        async with asyncio.timeout_at(when):
            reader = await self._reader()
            return await reader.fetch(sql, args)

    async def write_one(self, sql: str, args: Sequence[Any], when: float) -> Sequence[Row]:
        writer = self._writer()
        if not self.write_lock.locked():
            # Queued on the writer's thread behind earlier writes, each committing by itself.
            return await writer.fetch_before(sql, args, when)
        # A multi-statement unit owns the writer: wait for it, within the deadline.
        async with asyncio.timeout_at(when):
            await self.write_lock.acquire()
        try:
            return await writer.fetch_before(sql, args, when)
        finally:
            self.write_lock.release()

    @contextlib.asynccontextmanager
    async def read_unit(self, when: float) -> AsyncIterator[_Connection]:
        async with asyncio.timeout_at(when):
            reader = await self._reader()
            reader.held = True
            try:
                # Statements queued before this BEGIN finish first: the thread runs in order.
                await reader.fetch("BEGIN", ())
                try:
                    yield reader
                finally:
                    await reader.roll_back()
            finally:
                reader.held = False
                async with self.reader_freed:
                    self.reader_freed.notify_all()

    @contextlib.asynccontextmanager
    async def write_unit(self, when: float) -> AsyncIterator[_Connection]:
        async with asyncio.timeout_at(when):
            await self.write_lock.acquire()
        try:
            writer = self._writer()
            try:
                async with asyncio.timeout_at(when):
                    await writer.fetch("BEGIN IMMEDIATE", ())
                    yield writer
                    await writer.fetch("COMMIT", ())
            except BaseException:
                # After whatever was in flight, still holding the lock: nothing half-done
                # survives, and the next writer finds no open transaction.
                await writer.roll_back()
                raise
        finally:
            self.write_lock.release()


# --- PostgreSQL ---------------------------------------------------------------------------

_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)


def _postgres_error(error: BaseException) -> DatabaseError:
    if isinstance(error, asyncpg.UniqueViolationError):
        return UniqueViolation(str(error))
    if isinstance(error, asyncpg.ForeignKeyViolationError):
        return ForeignKeyViolation(str(error))
    if isinstance(error, _PG_UNAVAILABLE):
        return DatabaseUnavailable(f"{type(error).__name__}: {error}")
    return DatabaseError(f"{type(error).__name__}: {error}")


def _answer_or_unknown(what: str, error: BaseException) -> BaseException:
    """What a failed write becomes once it may have reached the server: a refusal (an
    answer) as its own class; a lost answer, or no answer in time, as WriteOutcomeUnknown."""
    if isinstance(error, TimeoutError):
        return WriteOutcomeUnknown(f"{what} was sent but not confirmed in time")
    found = _postgres_error(error)
    if isinstance(found, DatabaseUnavailable):
        return WriteOutcomeUnknown(f"{what} was sent but its connection was lost: {found}")
    return found


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """The pool's reset hook: nothing to reset, so no round trip on release."""


def _terminate(connection: asyncpg.Connection) -> None:
    """Drop a connection without a word to the server (it may not be listening)."""
    with contextlib.suppress(asyncpg.InterfaceError):
        connection.terminate()


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
    def __init__(self, dsn: str, *, pool_size: int, connect_timeout: float) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        settings = {
            "idle_in_transaction_session_timeout": str(POSTGRES_IDLE_IN_TRANSACTION_MS),
            **POSTGRES_KEEPALIVES,
        }
        try:
            self.pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                reset=_keep_session,
                timeout=self.connect_timeout,
                server_settings=settings,
            )
        except (asyncpg.PostgresError, TimeoutError, *_PG_UNAVAILABLE) as error:
            raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            # A stalled server must not hold the bot's shutdown hostage.
            try:
                await asyncio.wait_for(pool.close(), timeout=self.connect_timeout)
            except TimeoutError:
                pool.terminate()

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise DatabaseUnavailable("the database is closed")
        return self.pool

    @contextlib.asynccontextmanager
    async def _connection(self, when: float) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for the unit; terminated, not reused, if the unit fails.

        An error or a missed deadline may leave the connection mid-statement, inside a
        transaction, or on a stalled network where no ROLLBACK or cancel request arrives.
        """
        pool = self._pool()
        try:
            async with asyncio.timeout_at(when):
                connection = await pool.acquire()
        except (asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
            raise _postgres_error(error) from error
        try:
            yield connection
        except (asyncio.CancelledError, TimeoutError, DatabaseUnavailable):
            _terminate(connection)
            raise
        except BaseException:
            # The database answered (a refusal, or the caller's own error): end the
            # transaction and keep the connection, unless even that does not answer.
            with contextlib.suppress(asyncpg.InterfaceError):
                if connection.is_in_transaction():
                    try:
                        async with asyncio.timeout(ROLLBACK_SECONDS):
                            await connection.execute("ROLLBACK")
                    except BaseException:
                        _terminate(connection)
            raise
        finally:
            # A connection lost mid-statement was already handed back by the pool itself.
            with contextlib.suppress(asyncpg.InterfaceError):
                await pool.release(connection)

    async def read_one(self, sql: str, args: Sequence[Any], when: float) -> Sequence[Row]:
        async with self._connection(when) as connection, asyncio.timeout_at(when):
            try:
                return await connection.fetch(sql, *args)  # type: ignore[no-any-return]
            except (asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
                raise _postgres_error(error) from error

    async def write_one(self, sql: str, args: Sequence[Any], when: float) -> Sequence[Row]:
        async with self._connection(when) as connection:
            # From here the statement may reach the server and commit on its own (autocommit),
            # even after the connection is dropped: a stalled network delivers it late.
            try:
                async with asyncio.timeout_at(when):
                    return await connection.fetch(sql, *args)  # type: ignore[no-any-return]
            except (TimeoutError, asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
                raise _answer_or_unknown("the write", error) from error

    @contextlib.asynccontextmanager
    async def _unit(self, when: float, begin: str, *, writes: bool) -> AsyncIterator[_Connection]:
        async with self._connection(when) as connection:
            unit = _PostgresConnection(connection)
            async with asyncio.timeout_at(when):
                await unit.fetch(begin, ())
                yield unit
            # Until COMMIT is sent, a dropped connection rolls the transaction back; once it
            # is sent, only the server's answer tells whether it committed.
            if not writes:
                async with asyncio.timeout_at(when):
                    await unit.fetch("COMMIT", ())
                return
            try:
                async with asyncio.timeout_at(when):
                    await connection.execute("COMMIT")
            except (TimeoutError, asyncpg.PostgresError, *_PG_UNAVAILABLE) as error:
                raise _answer_or_unknown("the COMMIT", error) from error

    def read_unit(self, when: float) -> contextlib.AbstractAsyncContextManager[_Connection]:
        return self._unit(when, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", writes=False)

    def write_unit(self, when: float) -> contextlib.AbstractAsyncContextManager[_Connection]:
        return self._unit(when, "BEGIN", writes=True)


@contextlib.contextmanager
def _unconfirmed(what: str) -> Iterator[None]:
    """Turn a lost answer to something already sent into WriteOutcomeUnknown.

    A refusal (a constraint, a syntax error) is an answer and passes through unchanged."""
    try:
        yield
    except TimeoutError as error:
        raise WriteOutcomeUnknown(f"{what} was sent but not confirmed in time") from error
    except DatabaseUnavailable as error:
        raise WriteOutcomeUnknown(f"{what} was sent but the connection was lost: {error}") from (
            error
        )
