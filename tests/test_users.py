"""Profiles: every operation from the sketch, its result shape, and its failures."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.db import Database, Post, User
from bot.db.posts import add_post
from bot.db.users import (
    add_many_users,
    add_user,
    delete_user,
    find_user_by_name,
    get_user,
    get_user_or_none,
    get_user_with_post_count,
    list_users,
    list_users_with_post_counts,
    update_user_name,
)
from bot.errors import AlreadyRegistered, InvalidInput, NotRegistered

GUILD = 111_000_000_000_000_001
OTHER_GUILD = 222_000_000_000_000_002
ALICE = 300_000_000_000_000_001
BOB = 300_000_000_000_000_002
# Discord ids use all 64 bits' worth of range; make sure nothing truncates them.
BIG_ID = 2**63 - 1


async def test_add_user_returns_a_usable_detached_profile(db: Database) -> None:
    user = await add_user(db, GUILD, ALICE, "  Ann  ", 30)
    # The session is closed; attributes must still be readable (expire_on_commit=False).
    assert user.id > 0
    assert user.name == "Ann"
    assert user.created_at.tzinfo is UTC
    assert user.to_dict() == {
        "id": user.id,
        "guild_id": GUILD,
        "discord_id": ALICE,
        "name": "Ann",
        "age": 30,
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }


async def test_big_snowflakes_survive(db: Database) -> None:
    await add_user(db, BIG_ID, BIG_ID, "Max", 40)
    user = await get_user(db, BIG_ID, BIG_ID)
    assert (user.guild_id, user.discord_id) == (BIG_ID, BIG_ID)


async def test_second_registration_is_refused_by_the_constraint(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    with pytest.raises(AlreadyRegistered) as caught:
        await add_user(db, GUILD, ALICE, "Other", 31)
    assert "already have a profile" in caught.value.user_message
    # The same member may have a profile in another guild.
    other = await add_user(db, OTHER_GUILD, ALICE, "Ann elsewhere", 30)
    assert other.guild_id == OTHER_GUILD


@pytest.mark.parametrize(
    ("name", "age", "field"),
    [
        ("", 30, "name"),
        ("   ", 30, "name"),
        ("x" * 33, 30, "name"),
        ("two\nlines", 30, "name"),
        ("tab\there", 30, "name"),
        ("bell\x07", 30, "name"),
        ("sep\u2028arator", 30, "name"),
        ("\u200b\u200d\u0301", 30, "name"),
        ("Ann", 12, "age"),
        ("Ann", 121, "age"),
    ],
)
async def test_invalid_profiles_are_refused_and_nothing_is_stored(
    db: Database, name: str, age: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await add_user(db, GUILD, ALICE, name, age)
    assert caught.value.field == field
    assert caught.value.user_message.endswith(".")
    assert await get_user_or_none(db, GUILD, ALICE) is None


async def test_name_limits_count_characters_not_bytes(db: Database) -> None:
    name = "é" * 32  # 64 bytes in UTF-8, 32 characters: allowed
    user = await add_user(db, GUILD, ALICE, name, 13)
    assert user.name == name
    assert (await add_user(db, GUILD, BOB, "x" * 32, 120)).age == 120


async def test_get_user_and_get_user_or_none(db: Database) -> None:
    with pytest.raises(NotRegistered) as caught:
        await get_user(db, GUILD, ALICE)
    assert "/register" in caught.value.user_message
    assert await get_user_or_none(db, GUILD, ALICE) is None
    created = await add_user(db, GUILD, ALICE, "Ann", 30)
    assert (await get_user(db, GUILD, ALICE)).id == created.id
    # Another guild's profile is invisible.
    assert await get_user_or_none(db, OTHER_GUILD, ALICE) is None


async def test_list_users_is_scoped_and_ordered(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    await add_user(db, OTHER_GUILD, BOB, "Bob", 31)
    await add_user(db, GUILD, BOB, "Bea", 32)
    users = await list_users(db, GUILD)
    assert [u.name for u in users] == ["Ann", "Bea"]
    assert [u.name for u in await list_users(db, GUILD, limit=1, offset=1)] == ["Bea"]


async def test_find_user_by_name(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    await add_user(db, GUILD, BOB, "Ann", 31)
    await add_user(db, OTHER_GUILD, 9, "Zed", 31)
    found = await find_user_by_name(db, GUILD, "Ann")
    assert found is not None
    assert found.discord_id == ALICE  # the first registered
    assert await find_user_by_name(db, GUILD, "Zed") is None


async def test_update_user_name(db: Database) -> None:
    created = await add_user(db, GUILD, ALICE, "Ann", 30)
    renamed = await update_user_name(db, GUILD, ALICE, " Annie ")
    assert renamed.name == "Annie"
    assert renamed.id == created.id
    assert renamed.updated_at >= created.updated_at
    assert renamed.updated_at.tzinfo is UTC
    assert (await get_user(db, GUILD, ALICE)).name == "Annie"


async def test_update_user_name_failures_change_nothing(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    with pytest.raises(InvalidInput):
        await update_user_name(db, GUILD, ALICE, "")
    with pytest.raises(NotRegistered):
        await update_user_name(db, OTHER_GUILD, ALICE, "Hacker")
    with pytest.raises(NotRegistered):
        await update_user_name(db, GUILD, BOB, "Bob")
    assert (await get_user(db, GUILD, ALICE)).name == "Ann"


async def test_delete_user_takes_posts_and_counts_them(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    await add_user(db, GUILD, BOB, "Bob", 30)
    for i in range(3):
        await add_post(db, GUILD, ALICE, f"post {i}")
    await add_post(db, GUILD, BOB, "Bob's")
    assert await delete_user(db, GUILD, ALICE) == 3
    assert await get_user_or_none(db, GUILD, ALICE) is None
    async with db.read() as session:
        remaining = (await session.execute(select(Post.title))).scalars().all()
    assert remaining == ["Bob's"]
    with pytest.raises(NotRegistered):
        await delete_user(db, GUILD, ALICE)


async def test_delete_user_without_posts_and_across_guilds(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    with pytest.raises(NotRegistered):
        await delete_user(db, OTHER_GUILD, ALICE)
    assert await get_user_or_none(db, GUILD, ALICE) is not None
    assert await delete_user(db, GUILD, ALICE) == 0


async def test_foreign_keys_cascade(db: Database) -> None:
    """Deleting a profile row directly removes its posts: foreign keys are enforced."""
    user = await add_user(db, GUILD, ALICE, "Ann", 30)
    await add_post(db, GUILD, ALICE, "hello")
    async with db.write() as session:
        await session.delete(await session.get_one(User, user.id))
    async with db.read() as session:
        assert (await session.execute(select(func.count(Post.id)))).scalar_one() == 0


async def test_a_post_cannot_point_at_a_missing_profile(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            session.add(Post(user_id=999_999, guild_id=GUILD, title="orphan"))


async def test_add_many_users(db: Database) -> None:
    count = await add_many_users(db, GUILD, [(ALICE, "Ann", 30), (BOB, "Bob", 40)])
    assert count == 2
    assert [u.name for u in await list_users(db, GUILD)] == ["Ann", "Bob"]
    assert await add_many_users(db, GUILD, []) == 0


async def test_add_many_users_is_all_or_nothing(db: Database) -> None:
    await add_user(db, GUILD, BOB, "Bob", 40)
    with pytest.raises(AlreadyRegistered):
        await add_many_users(db, GUILD, [(ALICE, "Ann", 30), (BOB, "Bob again", 40)])
    assert await get_user_or_none(db, GUILD, ALICE) is None
    with pytest.raises(InvalidInput):
        await add_many_users(db, GUILD, [(ALICE, "Ann", 30), (3, "", 40)])
    assert await get_user_or_none(db, GUILD, ALICE) is None


async def test_profile_with_post_count(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    user, count = await get_user_with_post_count(db, GUILD, ALICE)
    assert (user.name, count) == ("Ann", 0)
    await add_post(db, GUILD, ALICE, "one")
    await add_post(db, GUILD, ALICE, "two")
    assert (await get_user_with_post_count(db, GUILD, ALICE))[1] == 2
    with pytest.raises(NotRegistered):
        await get_user_with_post_count(db, OTHER_GUILD, ALICE)


async def test_members_with_post_counts_rows(db: Database) -> None:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    await add_user(db, GUILD, BOB, "Bob", 30)
    await add_user(db, OTHER_GUILD, ALICE, "Elsewhere", 30)
    await add_post(db, GUILD, BOB, "one")
    await add_post(db, GUILD, BOB, "two")
    await add_post(db, OTHER_GUILD, ALICE, "not counted here")
    rows = await list_users_with_post_counts(db, GUILD)
    assert [(user.name, count) for user, count in rows] == [("Bob", 2), ("Ann", 0)]
    assert rows[0].post_count == 2
