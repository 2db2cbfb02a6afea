"""Shared fixtures: every data-layer test runs on SQLite and on PostgreSQL.

The ``backend`` parameter makes each test that asks for a database run twice. PostgreSQL is
used when a server answers at the address ``tests/pg_address.py`` gives (``127.0.0.1:5432``
unless ``TEST_PG_HOST``/``TEST_PG_PORT`` move it; trust auth, user ``postgres``): the session
creates its own database there and drops it at the end. ``TEST_DATABASE_URL`` names another
PostgreSQL database to use instead (it is emptied, not dropped). Without a server the
PostgreSQL half is skipped and the run says so; under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.db.migrate import migration_engine, upgrade
from tests.pg_address import AddressError, pg_address

BACKENDS = ("sqlite", "postgresql")
_NOT_COUNTED = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|PRAGMA|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_answers(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


@dataclass
class PostgresServer:
    """Where the PostgreSQL half of the suite runs, or why it does not."""

    url: str | None = None
    skipped_because: str | None = None
    server: str | None = None
    created: list[str] = field(default_factory=list)


_POSTGRES = PostgresServer()


def pytest_configure(config: pytest.Config) -> None:
    override = os.environ.get("TEST_DATABASE_URL")
    if override:
        url = make_url(override).set(drivername="postgresql+asyncpg")
        problem = asyncio.run(_pg_answers(url.render_as_string(hide_password=False)))
        if problem:
            raise pytest.UsageError(f"TEST_DATABASE_URL does not answer: {problem}")
        _POSTGRES.url = url.render_as_string(hide_password=False)
        return
    try:
        host, port = pg_address()
    except AddressError as error:
        raise pytest.UsageError(str(error)) from None
    server = f"postgresql+asyncpg://postgres@{host}:{port}/postgres"
    problem = asyncio.run(_pg_answers(server))
    if problem:
        _POSTGRES.skipped_because = f"no PostgreSQL server at {host}:{port} ({problem})"
        return
    name = f"bulletin_test_{os.getpid()}"
    asyncio.run(_create_database(server, name))
    _POSTGRES.server = server
    _POSTGRES.created.append(name)
    _POSTGRES.url = make_url(server).set(database=name).render_as_string(hide_password=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in _POSTGRES.created:
        assert _POSTGRES.server is not None
        asyncio.run(_drop_database(_POSTGRES.server, name))


def pytest_report_header(config: pytest.Config) -> str:
    if _POSTGRES.url:
        return f"PostgreSQL: on ({Database.describe_url(_POSTGRES.url)})"
    return f"PostgreSQL: SKIPPED - {_POSTGRES.skipped_because}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _POSTGRES.url:
        terminalreporter.write_line(
            f"The PostgreSQL run was skipped: {_POSTGRES.skipped_because}. Only SQLite was tested.",
            yellow=True,
            bold=True,
        )


async def _create_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def empty_postgres(url: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()


def require_backend(name: str) -> str:
    """``name``, or a skip when it is PostgreSQL and no server answers (under CI=true, a failure)."""
    if name == "postgresql" and not _POSTGRES.url:
        message = f"PostgreSQL run skipped: {_POSTGRES.skipped_because}"
        if _in_ci():
            pytest.fail(f"{message} (CI=true requires PostgreSQL)")
        pytest.skip(message)
    return name


async def empty_database(backend: str, sqlite_url: str) -> str:
    """A URL for a database with no tables at all: ``sqlite_url``, or the session's PostgreSQL
    database, emptied."""
    if backend == "sqlite":
        return sqlite_url
    assert _POSTGRES.url is not None
    await empty_postgres(_POSTGRES.url)
    return _POSTGRES.url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return require_backend(request.param)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bulletin.db'}"


@pytest.fixture
async def empty_database_url(backend: str, sqlite_url: str) -> str:
    """A URL for a database with no tables at all."""
    return await empty_database(backend, sqlite_url)


@pytest.fixture
async def db(empty_database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database on the current backend."""
    database = Database(empty_database_url)
    await upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


@dataclass
class StatementLog:
    """The SQL statements a ``Database`` sent, without transaction control and PRAGMAs.

    An executemany counts once, as one round trip.
    """

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def clear(self) -> None:
        self.statements.clear()

    def record(self, sql: str) -> None:
        if not _NOT_COUNTED.match(sql):
            self.statements.append(sql)


@contextlib.contextmanager
def statement_log(db: Database) -> Iterator[StatementLog]:
    """Records every statement ``db`` sends while the block runs."""
    log = StatementLog()
    stop = db.listen(log.record)
    try:
        yield log
    finally:
        stop()


@pytest.fixture
def statements(db: Database) -> Iterator[StatementLog]:
    """Records every statement ``db`` sends during the test."""
    with statement_log(db) as log:
        yield log


@pytest.fixture
def postgres_url() -> str:
    """The session's PostgreSQL database, for tests that only make sense there."""
    if not _POSTGRES.url:
        if _in_ci():
            pytest.fail(f"PostgreSQL unavailable under CI=true: {_POSTGRES.skipped_because}")
        pytest.skip(f"PostgreSQL run skipped: {_POSTGRES.skipped_because}")
    return _POSTGRES.url


async def table_names(database: Database) -> set[str]:
    engine = migration_engine(database.url)
    try:
        async with engine.connect() as connection:
            if database.is_sqlite:
                rows = await connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type='table'")
                )
            else:
                rows = await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
                )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()
