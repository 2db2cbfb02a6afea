"""Running Alembic migrations, on an engine of their own.

Alembic drives SQLAlchemy's engine, which the serving bot does not use (``bot.db.database``
runs compiled statements on its own connections), so migrations get a short-lived async
engine here and run through ``run_sync``, with the connection handed to ``env.py`` in
``config.attributes["connection"]`` (Alembic's connection-sharing recipe). On PostgreSQL
``env.py`` takes a transaction-scoped advisory lock inside Alembic's transaction, so several
processes starting at once upgrade exactly once. On SQLite every connection gets foreign
keys and an explicit ``BEGIN``, so DDL runs in a transaction too.

The bot itself migrates in a child process (``python -m bot migrate``), so Alembic and Mako
are never loaded into the process that serves Discord.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.db.database import Database, sqlite_path

# Migrations may wait longer for a lock than a command: nobody is waiting for a reply.
MIGRATION_BUSY_TIMEOUT_MS = 30_000

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: URL | None = None) -> Config:
    """An Alembic configuration for this project, with no ini file and no logging set-up."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser treats % as interpolation; an escaped password must survive it.
        rendered = url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", rendered)
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def migration_engine(url: str | URL) -> AsyncEngine:
    """A pool-less engine for migrations and tools, with the same SQLite settings as the bot."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is None:
            raise ValueError("Bulletin needs a SQLite file, not an in-memory database")
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, poolclass=NullPool)
    if parsed.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys and explicit BEGIN on every connection (SQLAlchemy's documented recipe)."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours to emit (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={MIGRATION_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _run(connection: Connection, action: str, revision: str) -> list[str]:
    config = alembic_config(connection.engine.url)
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)
    return list(config.attributes.get("applied", []))


def _current(connection: Connection) -> Any:
    return MigrationContext.configure(connection).get_current_revision()


def _url_of(target: Database | str | URL) -> URL:
    return target.url if isinstance(target, Database) else make_url(target)


async def _on_engine(target: Database | str | URL, work: Any, *args: Any) -> Any:
    engine = migration_engine(_url_of(target))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work, *args)
    finally:
        await engine.dispose()


async def upgrade(target: Database | str | URL, revision: str = "head") -> list[str]:
    """Bring the schema up to ``revision`` (the newest by default).

    Returns the revisions this call applied: none when another process got there first.
    """
    applied: list[str] = await _on_engine(target, _run, "upgrade", revision)
    return applied


async def downgrade(target: Database | str | URL, revision: str) -> list[str]:
    """Take the schema down to ``revision`` (``base`` removes every table)."""
    undone: list[str] = await _on_engine(target, _run, "downgrade", revision)
    return undone


async def current_revision(target: Database | str | URL) -> str | None:
    """The revision the database is at, or None for an empty database."""
    revision = await _on_engine(target, _current)
    return str(revision) if revision is not None else None
