"""Helpers shared by the test folders (fixtures stay in each folder's conftest)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import bindparam, insert

from bot.db import Database, Post
from bot.db.statements import Query, Statement, nothing
from bot.db.types import utcnow


async def assert_no_leaked_tasks(before: set[asyncio.Task[Any]]) -> None:
    """Every task started since ``before`` has ended (waits up to a second for stragglers)."""
    current = asyncio.current_task()
    leaked: list[asyncio.Task[Any]] = []
    for _ in range(100):
        leaked = [
            t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()
        ]
        if not leaked:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"tasks left running after teardown: {leaked}")


_ADD_POSTS = Statement(
    insert(Post).values(
        user_id=bindparam("user_id"),
        guild_id=bindparam("guild_id"),
        title=bindparam("title"),
        body=bindparam("body"),
        created_at=bindparam("now", type_=Post.created_at.type),
    ),
    name="test_add_posts",
)


async def add_posts(db: Database, rows: list[dict[str, Any]]) -> None:
    """Posts in bulk (``user_id``, ``guild_id``, ``title``, ``body``), as /post stores them.

    In units of 1,000: every post updates its author's post_count (a trigger), and 100,000
    updates of one row in one PostgreSQL transaction pile up row versions it cannot prune.
    """
    now = utcnow()
    for start in range(0, len(rows), 1000):
        async with db.write() as unit:
            batch = [{"body": None, **row, "now": now} for row in rows[start : start + 1000]]
            await unit.run(Query(_ADD_POSTS, {}, nothing, many=batch))
