"""Timestamps and ``to_dict``: aware UTC everywhere and the same output on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from bot.db import Database, Post, User
from bot.db.migrate import upgrade
from bot.db.posts import add_post, get_user_posts
from bot.db.users import add_user, get_user
from tests.conftest import empty_postgres

GUILD = 111_000_000_000_000_001
MOMENT = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)


async def _fixed_profile(db: Database) -> tuple[dict[str, object], dict[str, object]]:
    await add_user(db, GUILD, 7, "Ann", 30)
    await add_post(db, GUILD, 7, "Title", "Body")
    # A non-UTC offset on the way in must come back as the same instant in UTC.
    plus_two = MOMENT.astimezone(timezone(timedelta(hours=2)))
    async with db.write() as session:
        await session.execute(update(User).values(created_at=plus_two, updated_at=MOMENT))
        await session.execute(update(Post).values(created_at=MOMENT))
    user = await get_user(db, GUILD, 7)
    (post,) = await get_user_posts(db, GUILD, 7)
    return user.to_dict(), post.to_dict()


async def test_timestamps_are_aware_utc(db: Database) -> None:
    user_dict, post_dict = await _fixed_profile(db)
    assert user_dict["created_at"] == "2026-03-01T12:30:45.123456+00:00"
    assert post_dict["created_at"] == "2026-03-01T12:30:45.123456+00:00"
    json.dumps([user_dict, post_dict])  # JSON-safe as it is


async def test_naive_timestamps_are_refused(db: Database) -> None:
    await add_user(db, GUILD, 7, "Ann", 30)
    with pytest.raises(Exception, match="timezone-aware"):
        async with db.write() as session:
            await session.execute(update(User).values(updated_at=datetime(2026, 1, 1)))


async def test_to_dict_is_identical_on_sqlite_and_postgresql(
    sqlite_url: str, postgres_url: str
) -> None:
    await empty_postgres(postgres_url)
    results = []
    for url in (sqlite_url, postgres_url):
        async with Database(url) as db:
            await upgrade(db)
            results.append(await _fixed_profile(db))
    assert results[0] == results[1]
