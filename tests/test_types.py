"""Timestamps, big ids and ``to_dict``: aware UTC everywhere, the same on both backends, and
stored exactly as SQLAlchemy itself stores them (its processors are the ones applied)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database, Post, User
from bot.db.migrate import migration_engine, upgrade
from bot.db.posts import add_post, get_user_posts
from bot.db.statements import Query, Statement, nothing
from bot.db.users import add_user, get_user
from tests.conftest import empty_postgres

GUILD = 111_000_000_000_000_001
MOMENT = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
BIG_ID = 2**63 - 1

_SET_USER_TIMES = Statement(
    update(User).values(
        created_at=bindparam("created_at", type_=User.created_at.type),
        updated_at=bindparam("updated_at", type_=User.updated_at.type),
    ),
    name="test_set_user_times",
)
_SET_POST_TIMES = Statement(
    update(Post).values(created_at=bindparam("created_at", type_=Post.created_at.type)),
    name="test_set_post_times",
)


async def _fixed_profile(db: Database) -> tuple[dict[str, object], dict[str, object]]:
    await db.write_one(add_user(GUILD, 7, "Ann", 30))
    await db.write_one(add_post(GUILD, 7, "Title", "Body"))
    # A non-UTC offset on the way in must come back as the same instant in UTC.
    plus_two = MOMENT.astimezone(timezone(timedelta(hours=2)))
    async with db.write() as unit:
        await unit.run(
            Query(_SET_USER_TIMES, {"created_at": plus_two, "updated_at": MOMENT}, nothing)
        )
        await unit.run(Query(_SET_POST_TIMES, {"created_at": MOMENT}, nothing))
    user = await db.read_one(get_user(GUILD, 7))
    (post,) = await db.read_one(get_user_posts(GUILD, 7))
    return dict(user.to_dict()), dict(post.to_dict())


async def test_timestamps_are_aware_utc(db: Database) -> None:
    user_dict, post_dict = await _fixed_profile(db)
    for value in (user_dict["created_at"], user_dict["updated_at"], post_dict["created_at"]):
        assert isinstance(value, datetime)
        assert value.tzinfo is UTC
        assert value == MOMENT
        assert value.isoformat() == "2026-03-01T12:30:45.123456+00:00"


async def test_naive_timestamps_are_refused(db: Database) -> None:
    created = await db.write_one(add_user(GUILD, 7, "Ann", 30))
    naive = {"created_at": datetime(2026, 1, 1), "updated_at": datetime(2026, 1, 1)}
    with pytest.raises(ValueError, match="timezone-aware"):
        await db.write_one(Query(_SET_USER_TIMES, naive, nothing))
    with pytest.raises(ValueError, match="timezone-aware"):
        async with db.write() as unit:
            await unit.run(Query(_SET_USER_TIMES, naive, nothing))
    assert (await db.read_one(get_user(GUILD, 7))).to_dict() == created.to_dict()


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
    user_dict, post_dict = results[0]
    assert user_dict["post_count"] == 1
    assert post_dict["body"] == "Body"


async def test_values_written_here_read_back_through_sqlalchemy(db: Database) -> None:
    """The data layer applies SQLAlchemy's own processors: SQLAlchemy reads what it wrote."""
    query = add_user(BIG_ID, BIG_ID, "Max", 40)
    written = query.params["now"]
    user = await db.write_one(query)
    assert user.created_at == written
    post = await db.write_one(add_post(BIG_ID, BIG_ID, "big"))
    engine = migration_engine(db.url)
    try:
        async with engine.connect() as connection:
            core = (
                await connection.execute(
                    select(User.created_at, User.updated_at, User.guild_id, User.discord_id)
                )
            ).one()
        assert tuple(core) == (written, written, BIG_ID, BIG_ID)
        assert core.created_at.tzinfo is UTC
        async with AsyncSession(engine) as session:
            loaded = await session.get_one(User, user.id)
            assert (loaded.created_at, loaded.guild_id, loaded.discord_id) == (
                written,
                BIG_ID,
                BIG_ID,
            )
            loaded_post = await session.get_one(Post, post.id)
            assert loaded_post.created_at == post.created_at
            assert loaded_post.user_id == user.id
    finally:
        await engine.dispose()


async def test_values_sqlalchemy_wrote_read_back_here_and_store_alike(db: Database) -> None:
    """A row SQLAlchemy inserts and one the data layer inserts hold the same stored text."""
    plus_five = MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    engine = migration_engine(db.url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(User).values(
                    guild_id=GUILD,
                    discord_id=1,
                    name="By SQLAlchemy",
                    age=30,
                    created_at=plus_five,
                    updated_at=MOMENT,
                )
            )
        await db.write_one(add_user(GUILD, 2, "By Bulletin", 30))
        await db.write_one(
            Query(_SET_USER_TIMES, {"created_at": plus_five, "updated_at": MOMENT}, nothing)
        )
        async with engine.connect() as connection:
            raw = (
                await connection.execute(
                    text("SELECT created_at, updated_at FROM users ORDER BY discord_id")
                )
            ).all()
    finally:
        await engine.dispose()
    by_sqlalchemy, by_bulletin = (tuple(row) for row in raw)
    assert by_sqlalchemy == by_bulletin
    if db.is_sqlite:
        # SQLAlchemy's SQLite DATETIME format, in UTC.
        assert by_bulletin == ("2026-03-01 12:30:45.123456", "2026-03-01 12:30:45.123456")
    read_here = await db.read_one(get_user(GUILD, 1))
    assert (read_here.created_at, read_here.updated_at) == (MOMENT, MOMENT)
    assert read_here.created_at.tzinfo is UTC
    assert read_here.post_count == 0  # the server default, for a row made elsewhere


async def test_big_ids_survive_every_path(db: Database) -> None:
    for member in (BIG_ID, BIG_ID - 1, 2**53 + 1):  # 2**53 + 1: lost by any float on the way
        await db.write_one(add_user(BIG_ID, member, "Max", 40))
        user = await db.read_one(get_user(BIG_ID, member))
        assert (user.guild_id, user.discord_id) == (BIG_ID, member)
        post = await db.write_one(add_post(BIG_ID, member, "big"))
        assert post.guild_id == BIG_ID
        (again,) = await db.read_one(get_user_posts(BIG_ID, member))
        assert again.to_dict() == post.to_dict()
