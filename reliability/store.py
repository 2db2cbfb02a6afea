"""Reading the database behind the bot's back, with the bare drivers, to check what it holds."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
from sqlalchemy.engine import make_url

from bot.db.database import sqlite_path


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as asyncpg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_posts(path: str) -> list[tuple[int, str]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = connection.execute("SELECT id, title FROM posts ORDER BY id").fetchall()
    finally:
        connection.close()
    return [(int(i), str(t)) for i, t in rows]


async def stored_posts(url: str) -> list[tuple[int, str]]:
    """Every post's id and title, in id order."""
    path = sqlite_path(url)
    if path is not None:
        return await asyncio.to_thread(_sqlite_posts, str(path))
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        rows = await connection.fetch("SELECT id, title FROM posts ORDER BY id")
    finally:
        await connection.close()
    return [(int(r["id"]), str(r["title"])) for r in rows]
