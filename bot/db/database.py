"""The ``Database`` object: one engine, one session factory, and units of work.

Every operation opens its own short unit of work, ``async with db.read() as session`` or
``async with db.write() as session``; no session is ever stored or shared between tasks
(an ``AsyncSession`` used by two tasks at once fails).

SQLite is tuned per connection (foreign keys on, WAL, ``synchronous=NORMAL``, a busy timeout)
and its writers are serialized in-process by an asyncio lock plus ``BEGIN IMMEDIATE``: a writer
takes the write lock at ``BEGIN`` instead of failing half-way with "database is locked". On
PostgreSQL neither is needed, so neither is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The execution option through which write() asks the SQLite "begin" hook for BEGIN IMMEDIATE.
_BEGIN_MODE = "bulletin_sqlite_begin"


def is_sqlite(url: str | URL) -> bool:
    """Whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database or another backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        engine_args: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            path = sqlite_path(self.url)
            if path is None:
                # An in-memory database exists per connection; pooled sessions would each see
                # their own empty database, and StaticPool shares one transaction among all.
                raise ValueError("Bulletin needs a SQLite file, not an in-memory database")
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            engine_args.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
        self.engine: AsyncEngine = create_async_engine(self.url, **engine_args)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work; whatever it did is rolled back at the end."""
        async with self._sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that commits when the block ends and rolls back if it raises."""
        if self._write_lock is None:
            async with self._sessions.begin() as session:
                yield session
            return
        async with self._write_lock, self._sessions.begin() as session:
            await session.connection(execution_options={_BEGIN_MODE: "IMMEDIATE"})
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.dispose()

    @staticmethod
    def describe_url(url: str | URL) -> str:
        """The URL with its password hidden, for logs."""
        return make_url(url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"<Database {self.describe_url(self.url)}>"


def _tune_sqlite(engine: AsyncEngine) -> None:
    """Per-connection PRAGMAs and explicit BEGIN for SQLite (SQLAlchemy's documented recipe)."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours to emit (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
