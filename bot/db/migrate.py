"""Running Alembic migrations from inside the bot's event loop.

Alembic's stock async ``env.py`` calls ``asyncio.run()``, which fails inside a running loop;
instead the upgrade runs on one of our engine's connections through ``run_sync`` and hands
it to ``env.py`` in ``config.attributes["connection"]`` (Alembic's connection-sharing recipe).
On PostgreSQL ``env.py`` takes a transaction-scoped advisory lock inside Alembic's own
transaction, so several processes starting at once upgrade exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection

from bot.db.database import Database

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


async def upgrade(db: Database, revision: str = "head") -> list[str]:
    """Bring the schema up to ``revision`` (the newest by default).

    Returns the revisions this call applied: none when another process got there first.
    """
    async with db.engine.connect() as connection:
        return await connection.run_sync(_run, "upgrade", revision)


async def downgrade(db: Database, revision: str) -> list[str]:
    """Take the schema down to ``revision`` (``base`` removes every table)."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_run, "downgrade", revision)


async def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""
    async with db.engine.connect() as connection:
        revision = await connection.run_sync(_current)
    return str(revision) if revision is not None else None
