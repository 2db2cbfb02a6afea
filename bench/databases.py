"""Throwaway databases for the benchmarks: a temporary SQLite file, or a PostgreSQL database
created on the local server and dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator

import asyncpg

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.asynccontextmanager
async def temporary_database(backend: str, *, suffix: str = "") -> AsyncIterator[str]:
    """The URL of an empty database on ``backend`` (``sqlite`` or ``postgresql``)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    name = f"bulletin_bench_{os.getpid()}{'_' + suffix if suffix else ''}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(*statements: str) -> None:
    admin = await asyncpg.connect(PG_SERVER)
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


async def postgres_answers() -> bool:
    """Whether the local PostgreSQL server accepts a connection."""
    try:
        connection = await asyncpg.connect(PG_SERVER, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True
