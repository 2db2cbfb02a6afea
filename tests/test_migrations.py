"""Migrations: they build exactly the models' schema, go down and up again, run once under
concurrent starts on PostgreSQL, and leave logging alone."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.db import Base, Database
from bot.db.migrate import (
    current_revision,
    downgrade,
    head_revision,
    migration_engine,
    upgrade,
)
from bot.db.users import add_user, get_user
from tests.conftest import empty_postgres, table_names

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"users", "posts", "command_syncs", "identify_buckets", "alembic_version"}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_exactly_the_models(empty_database_url: str) -> None:
    applied = await upgrade(empty_database_url)
    assert applied[0] == "0001"
    assert applied[-1] == head_revision()
    engine = migration_engine(empty_database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


async def test_up_down_up(empty_database_url: str) -> None:
    async with Database(empty_database_url) as db:
        assert await current_revision(db) is None
        await upgrade(db)
        assert await current_revision(db) == head_revision()
        assert await table_names(db) >= TABLES
        await db.write_one(add_user(1, 2, "Ann", 30))
        await db.close()
        await downgrade(db, "base")
        assert await current_revision(db) is None
        assert await table_names(db) & (TABLES - {"alembic_version"}) == set()
        await upgrade(db)
        assert await upgrade(db) == []  # already at head: nothing applied
        await db.write_one(add_user(1, 2, "Ann", 30))
        assert (await db.read_one(get_user(1, 2))).name == "Ann"


def _bot_command(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "DATABASE_URL")}
    env.update(extra)
    return env


async def test_migrate_command_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'fresh.db'}"
    process = _bot_command("migrate", env=_clean_env(DATABASE_URL=url))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Applied 0001" in out
    async with Database(url) as db:
        assert await current_revision(db) == head_revision()


async def test_two_concurrent_migrate_commands_upgrade_once(postgres_url: str) -> None:
    await empty_postgres(postgres_url)
    env = _clean_env(DATABASE_URL=postgres_url, LOG_LEVEL="INFO")
    processes = [_bot_command("migrate", env=env) for _ in range(2)]
    outputs = [await asyncio.to_thread(p.communicate, timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    stdout = "".join(out for out, _ in outputs)
    stderr = "".join(err for _, err in outputs)
    assert stdout.count("Applied 0001") == 1, stdout
    assert stdout.count("Nothing to apply") == 1, stdout
    assert stderr.count("Running upgrade  -> 0001") == 1, stderr
    async with Database(postgres_url) as db:
        assert await current_revision(db) == head_revision()


async def test_discord_logging_survives_a_migration(empty_database_url: str, caplog: Any) -> None:
    """The stock env.py's fileConfig() would disable every existing logger, discord.py's too."""
    discord_log = logging.getLogger("discord.gateway")
    async with Database(empty_database_url) as db:
        await upgrade(db)
    assert not discord_log.disabled
    with caplog.at_level(logging.INFO):
        discord_log.info("still heard")
    assert "still heard" in caplog.text


def test_alembic_command_line_uses_database_url(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=_clean_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").stat().st_size > 0
