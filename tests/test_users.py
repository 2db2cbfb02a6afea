"""Profiles: every query from the sketch, its result shape and its failures, on both backends.

Queries are built without I/O (bad input fails there, before anything is sent) and run by a
``Database``; the commands' behaviour is tested through ``bot.services.profiles``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, delete, func, insert, select

from bot.db import Database, Post, User
from bot.db.errors import ForeignKeyViolation, UniqueViolation
from bot.db.posts import add_post
from bot.db.statements import Query, Statement, nothing, scalar_one, scalars
from bot.db.users import (
    LIST_MAX,
    add_many_users,
    add_user,
    delete_user,
    find_user_by_name,
    get_user,
    get_user_or_none,
    list_users,
    update_user_name,
)
from bot.errors import AlreadyRegistered, InvalidInput, NotRegistered
from bot.services import profiles
from tests.conftest import StatementLog

GUILD = 111_000_000_000_000_001
OTHER_GUILD = 222_000_000_000_000_002
ALICE = 300_000_000_000_000_001
BOB = 300_000_000_000_000_002
# Discord ids use all 64 bits' worth of range; make sure nothing truncates them.
BIG_ID = 2**63 - 1

_POST_TITLES = Statement(select(Post.title).order_by(Post.id), name="test_post_titles")
_POST_TOTAL = Statement(select(func.count()).select_from(Post), name="test_post_total")
_DELETE_ROW = Statement(delete(User).where(User.id == bindparam("id")), name="test_delete_row")
_ORPHAN = Statement(
    insert(Post).values(
        user_id=bindparam("user_id"),
        guild_id=bindparam("guild_id"),
        title=bindparam("title"),
        body=None,
        created_at=bindparam("now", type_=Post.created_at.type),
    ),
    name="test_orphan_post",
)


async def _post_titles(db: Database) -> list[str]:
    return await db.read_one(Query(_POST_TITLES, {}, scalars))


async def _post_total(db: Database) -> int:
    total: int = await db.read_one(Query(_POST_TOTAL, {}, scalar_one))
    return total


async def test_add_user_returns_a_usable_detached_profile(db: Database) -> None:
    query = add_user(GUILD, ALICE, "  Ann  ", 30)
    now = query.params["now"]
    user = await db.write_one(query)
    assert user.id > 0
    assert user.name == "Ann"
    assert user.created_at.tzinfo is UTC
    assert user.to_dict() == {
        "id": user.id,
        "guild_id": GUILD,
        "discord_id": ALICE,
        "name": "Ann",
        "age": 30,
        "post_count": 0,
        "created_at": now,
        "updated_at": now,
    }
    # Read back later, the same profile.
    assert (await db.read_one(get_user(GUILD, ALICE))).to_dict() == user.to_dict()


async def test_building_a_query_sends_nothing(db: Database, statements: StatementLog) -> None:
    query = add_user(GUILD, ALICE, "Ann", 30)
    assert statements.count == 0
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is None
    await db.write_one(query)
    assert (await db.read_one(get_user(GUILD, ALICE))).name == "Ann"


async def test_big_snowflakes_survive(db: Database) -> None:
    await db.write_one(add_user(BIG_ID, BIG_ID, "Max", 40))
    user = await db.read_one(get_user(BIG_ID, BIG_ID))
    assert (user.guild_id, user.discord_id) == (BIG_ID, BIG_ID)
    assert await db.read_one(get_user_or_none(BIG_ID - 1, BIG_ID)) is None


async def test_second_registration_is_refused_by_the_constraint(
    db: Database, statements: StatementLog
) -> None:
    await profiles.register(db, GUILD, ALICE, "Ann", 30)
    statements.clear()
    with pytest.raises(AlreadyRegistered) as caught:
        await profiles.register(db, GUILD, ALICE, "Other", 31)
    assert "already have a profile" in caught.value.user_message
    # ON CONFLICT DO NOTHING decided in the insert: no lookup first, nothing changed; only
    # the refusal then asks whether a block was the reason (to say so instead).
    assert statements.count == 2
    assert statements.statements[0].lstrip().upper().startswith("INSERT")
    assert (await profiles.profile(db, GUILD, ALICE)).name == "Ann"
    # The same member may have a profile in another guild.
    other = await profiles.register(db, OTHER_GUILD, ALICE, "Ann elsewhere", 30)
    assert other.guild_id == OTHER_GUILD


async def test_a_refused_registration_leaves_the_unit_usable(db: Database) -> None:
    """No error from the database: on PostgreSQL one would abort the whole transaction."""
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    async with db.write() as unit:
        with pytest.raises(AlreadyRegistered):
            await unit.run(add_user(GUILD, ALICE, "Other", 31))
        await unit.run(add_user(GUILD, BOB, "Bob", 40))
        await unit.run(add_post(GUILD, BOB, "still in the same transaction"))
    assert (await db.read_one(get_user(GUILD, BOB))).post_count == 1
    assert (await db.read_one(get_user(GUILD, ALICE))).name == "Ann"


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
    db: Database, statements: StatementLog, name: str, age: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        add_user(GUILD, ALICE, name, age)  # refused while building: no I/O
    assert caught.value.field == field
    assert caught.value.user_message.endswith(".")
    with pytest.raises(InvalidInput):
        await profiles.register(db, GUILD, ALICE, name, age)
    assert statements.count == 0
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is None


async def test_name_limits_count_characters_not_bytes(db: Database) -> None:
    name = "é" * 32  # 64 bytes in UTF-8, 32 characters: allowed
    user = await profiles.register(db, GUILD, ALICE, name, 13)
    assert user.name == name
    assert (await db.read_one(get_user(GUILD, ALICE))).name == name
    assert (await profiles.register(db, GUILD, BOB, "x" * 32, 120)).age == 120


async def test_get_user_and_get_user_or_none(db: Database) -> None:
    with pytest.raises(NotRegistered) as caught:
        await db.read_one(get_user(GUILD, ALICE))
    assert "/register" in caught.value.user_message
    with pytest.raises(NotRegistered):
        await profiles.profile(db, GUILD, ALICE)
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is None
    created = await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    assert (await db.read_one(get_user(GUILD, ALICE))).id == created.id
    found = await db.read_one(get_user_or_none(GUILD, ALICE))
    assert found is not None
    assert found.id == created.id
    # Another guild's profile is invisible.
    assert await db.read_one(get_user_or_none(OTHER_GUILD, ALICE)) is None
    with pytest.raises(NotRegistered):
        await profiles.profile(db, OTHER_GUILD, ALICE)


async def test_list_users_is_scoped_and_ordered(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    await db.write_one(add_user(OTHER_GUILD, BOB, "Bob", 31))
    await db.write_one(add_user(GUILD, BOB, "Bea", 32))
    users = await db.read_one(list_users(GUILD))
    assert [u.name for u in users] == ["Ann", "Bea"]
    assert [u.name for u in await db.read_one(list_users(GUILD, limit=1, offset=1))] == ["Bea"]
    assert await db.read_one(list_users(GUILD, offset=2)) == []
    # Out-of-range paging is clamped, not an error.
    assert [u.name for u in await db.read_one(list_users(GUILD, limit=0))] == ["Ann"]
    assert [u.name for u in await db.read_one(list_users(GUILD, offset=-5))] == ["Ann", "Bea"]
    assert list_users(GUILD, limit=10**9).params["limit"] == LIST_MAX


async def test_find_user_by_name(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    await db.write_one(add_user(GUILD, BOB, "Ann", 31))
    await db.write_one(add_user(OTHER_GUILD, 9, "Zed", 31))
    found = await db.read_one(find_user_by_name(GUILD, " Ann "))
    assert found is not None
    assert found.discord_id == ALICE  # the first registered
    assert await db.read_one(find_user_by_name(GUILD, "Zed")) is None
    assert await db.read_one(find_user_by_name(GUILD, "ann")) is None  # exact match


async def test_update_user_name(db: Database) -> None:
    created = await profiles.register(db, GUILD, ALICE, "Ann", 30)
    renamed = await profiles.rename(db, GUILD, ALICE, " Annie ")
    assert renamed.name == "Annie"
    assert renamed.id == created.id
    assert renamed.created_at == created.created_at
    assert renamed.updated_at >= created.updated_at
    assert renamed.updated_at.tzinfo is UTC
    stored = await db.read_one(get_user(GUILD, ALICE))
    assert stored.to_dict() == renamed.to_dict()


async def test_update_user_name_failures_change_nothing(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    with pytest.raises(InvalidInput):
        update_user_name(GUILD, ALICE, "")
    with pytest.raises(InvalidInput):
        await profiles.rename(db, GUILD, ALICE, "x" * 33)
    with pytest.raises(NotRegistered):
        await profiles.rename(db, OTHER_GUILD, ALICE, "Hacker")
    with pytest.raises(NotRegistered):
        await db.write_one(update_user_name(GUILD, BOB, "Bob"))
    assert (await db.read_one(get_user(GUILD, ALICE))).name == "Ann"
    assert await db.read_one(get_user_or_none(OTHER_GUILD, ALICE)) is None


async def test_delete_user_takes_posts_and_counts_them(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    await db.write_one(add_user(GUILD, BOB, "Bob", 30))
    for i in range(3):
        await db.write_one(add_post(GUILD, ALICE, f"post {i}"))
    await db.write_one(add_post(GUILD, BOB, "Bob's"))
    assert (await profiles.leave(db, GUILD, ALICE))[0] == 3
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is None
    assert await _post_titles(db) == ["Bob's"]
    assert (await db.read_one(get_user(GUILD, BOB))).post_count == 1
    with pytest.raises(NotRegistered):
        await profiles.leave(db, GUILD, ALICE)


async def test_delete_user_without_posts_and_across_guilds(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    with pytest.raises(NotRegistered):
        await db.write_one(delete_user(OTHER_GUILD, ALICE))
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is not None
    assert await db.write_one(delete_user(GUILD, ALICE)) == 0
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is None


async def test_foreign_keys_cascade(db: Database) -> None:
    """Deleting a profile row directly removes its posts: foreign keys are enforced."""
    user = await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    await db.write_one(add_post(GUILD, ALICE, "hello"))
    await db.write_one(add_user(GUILD, BOB, "Bob", 30))
    await db.write_one(add_post(GUILD, BOB, "stays"))
    assert await _post_total(db) == 2
    await db.write_one(Query(_DELETE_ROW, {"id": user.id}, nothing))
    assert await _post_titles(db) == ["stays"]


async def test_a_post_cannot_point_at_a_missing_profile(db: Database) -> None:
    params = {"user_id": 999_999, "guild_id": GUILD, "title": "orphan", "now": datetime.now(UTC)}
    with pytest.raises(ForeignKeyViolation):
        await db.write_one(Query(_ORPHAN, params, nothing))
    assert await _post_total(db) == 0


async def test_add_many_users(db: Database) -> None:
    count = await db.write_one(add_many_users(GUILD, [(ALICE, " Ann ", 30), (BOB, "Bob", 40)]))
    assert count == 2
    users = await db.read_one(list_users(GUILD))
    assert [(u.name, u.age, u.post_count) for u in users] == [("Ann", 30, 0), ("Bob", 40, 0)]
    assert users[0].created_at.tzinfo is UTC
    assert await db.write_one(add_many_users(GUILD, [])) == 0
    again = await db.read_one(list_users(GUILD))
    assert [u.to_dict() for u in again] == [u.to_dict() for u in users]


async def test_add_many_users_is_all_or_nothing(db: Database) -> None:
    await db.write_one(add_user(GUILD, BOB, "Bob", 40))
    # A duplicate of a stored profile: the whole batch goes.
    with pytest.raises(UniqueViolation):
        await db.write_one(add_many_users(GUILD, [(ALICE, "Ann", 30), (BOB, "Bob again", 40)]))
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is None
    assert (await db.read_one(get_user(GUILD, BOB))).name == "Bob"
    # A duplicate inside the batch itself.
    with pytest.raises(UniqueViolation):
        await db.write_one(add_many_users(GUILD, [(ALICE, "Ann", 30), (ALICE, "Ann2", 30)]))
    assert await db.read_one(get_user_or_none(GUILD, ALICE)) is None
    # Bad input anywhere in the batch: refused while building, nothing sent.
    with pytest.raises(InvalidInput):
        add_many_users(GUILD, [(ALICE, "Ann", 30), (3, "", 40)])
    assert [u.discord_id for u in await db.read_one(list_users(GUILD))] == [BOB]


async def test_profile_shows_its_post_count(db: Database) -> None:
    await profiles.register(db, GUILD, ALICE, "Ann", 30)
    user = await profiles.profile(db, GUILD, ALICE)
    assert (user.name, user.post_count) == ("Ann", 0)
    await db.write_one(add_post(GUILD, ALICE, "one"))
    await db.write_one(add_post(GUILD, ALICE, "two"))
    assert (await profiles.profile(db, GUILD, ALICE)).post_count == 2
    assert (await profiles.profile(db, GUILD, ALICE)).to_dict()["post_count"] == 2
    with pytest.raises(NotRegistered):
        await profiles.profile(db, OTHER_GUILD, ALICE)


async def test_listed_profiles_carry_their_own_guilds_post_counts(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    await db.write_one(add_user(GUILD, BOB, "Bob", 30))
    await db.write_one(add_user(OTHER_GUILD, ALICE, "Elsewhere", 30))
    await db.write_one(add_post(GUILD, BOB, "one"))
    await db.write_one(add_post(GUILD, BOB, "two"))
    await db.write_one(add_post(OTHER_GUILD, ALICE, "not counted here"))
    listed = await db.read_one(list_users(GUILD))
    assert [(u.name, u.post_count) for u in listed] == [("Ann", 0), ("Bob", 2)]
    (elsewhere,) = await db.read_one(list_users(OTHER_GUILD))
    assert elsewhere.post_count == 1
    found = await db.read_one(find_user_by_name(GUILD, "Bob"))
    assert found is not None
    assert found.post_count == 2
