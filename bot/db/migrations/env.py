"""Alembic's environment: how migrations reach the database.

Two ways in. The bot (``bot.db.migrate``) passes its own connection in
``config.attributes["connection"]``; the ``alembic`` command line passes nothing, and this
file then opens an async engine itself from ``sqlalchemy.url`` or ``DATABASE_URL``.
``fileConfig()`` is never called: it would disable every logger that exists already,
discord.py's included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any, Literal

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.db.models import Base
from bot.db.types import UTCDateTime

# Any constant works, as long as every Bulletin process uses the same one ("BLTN").
MIGRATION_LOCK_KEY = 0x424C544E

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.config import load_settings  # noqa: PLC0415 - only the command line needs it

    return load_settings(require_token=False).database_url


def _render_item(kind: str, item: Any, _autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import the application's types: they outlive them.
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _record_step(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    # bot.db.migrate reports which revisions this process actually applied (or undid).
    config.attributes.setdefault("applied", []).append(str(step.up_revision_id))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them; batch mode does that
        compare_type=True,
        render_item=_render_item,
        on_version_apply=_record_step,
        # With explicit BEGIN (bot.db.migrate) SQLite runs DDL in transactions too, so a
        # failed upgrade leaves nothing half-done on either backend.
        transactional_ddl=True,
    )


def do_run_migrations(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Inside Alembic's transaction: taken before configure(), Alembic would see an
            # outside transaction and commit nothing. Released at commit.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def _run_with_own_engine() -> None:
    from bot.db.migrate import migration_engine  # noqa: PLC0415 - keeps the SQLite tuning in one place

    engine = migration_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
elif (shared := config.attributes.get("connection")) is not None:
    do_run_migrations(shared)
else:
    asyncio.run(_run_with_own_engine())
