"""Posts: publishing, keyset pages, deletion of one's own posts, counting and searching."""

from __future__ import annotations

from datetime import UTC

import pytest

from bot.db import Database
from bot.db.posts import (
    add_post,
    count_posts,
    delete_post,
    get_user_posts,
    search_user_posts,
)
from bot.db.users import add_user
from bot.errors import InvalidInput, NotRegistered, PostNotFound

GUILD = 111_000_000_000_000_001
OTHER_GUILD = 222_000_000_000_000_002
ALICE = 300_000_000_000_000_001
BOB = 300_000_000_000_000_002


@pytest.fixture
async def alice(db: Database) -> int:
    await add_user(db, GUILD, ALICE, "Ann", 30)
    return ALICE


async def _titles(db: Database, **page: int) -> list[str]:
    return [p.title for p in await get_user_posts(db, GUILD, ALICE, **page)]


async def test_add_post_returns_the_stored_post(db: Database, alice: int) -> None:
    post = await add_post(db, GUILD, alice, "  Hello  ", "  first body\nline two  ")
    assert post.id > 0
    assert (post.title, post.body) == ("Hello", "first body\nline two")
    assert post.created_at.tzinfo is UTC
    assert post.to_dict() == {
        "id": post.id,
        "user_id": post.user_id,
        "guild_id": GUILD,
        "title": "Hello",
        "body": "first body\nline two",
        "created_at": post.created_at.isoformat(),
    }
    assert (await add_post(db, GUILD, alice, "No body", "   ")).body is None


async def test_add_post_needs_a_profile_in_that_guild(db: Database, alice: int) -> None:
    with pytest.raises(NotRegistered):
        await add_post(db, OTHER_GUILD, alice, "Hello")
    with pytest.raises(NotRegistered):
        await add_post(db, GUILD, BOB, "Hello")
    assert await count_posts(db, OTHER_GUILD, alice) == 0


@pytest.mark.parametrize(
    ("title", "body", "field"),
    [
        ("", None, "title"),
        ("x" * 257, None, "title"),
        ("line\nbreak", None, "title"),
        ("ok", "x" * 4001, "body"),
        ("ok", "null\x00byte", "body"),
    ],
)
async def test_invalid_posts_store_nothing(
    db: Database, alice: int, title: str, body: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await add_post(db, GUILD, alice, title, body)
    assert caught.value.field == field
    assert await count_posts(db, GUILD, alice) == 0


async def test_limits_are_inclusive(db: Database, alice: int) -> None:
    post = await add_post(db, GUILD, alice, "t" * 256, "b" * 4000)
    assert (len(post.title), len(post.body or "")) == (256, 4000)


async def test_keyset_pages_newest_first(db: Database, alice: int) -> None:
    posts = [await add_post(db, GUILD, alice, f"p{i}") for i in range(12)]
    ids = [p.id for p in posts]
    assert await _titles(db, limit=5) == ["p11", "p10", "p9", "p8", "p7"]
    assert await _titles(db, before_id=ids[7], limit=5) == ["p6", "p5", "p4", "p3", "p2"]
    assert await _titles(db, before_id=ids[2], limit=5) == ["p1", "p0"]
    assert await _titles(db, before_id=ids[0], limit=5) == []
    # Going back: the page just above an id, still newest first.
    assert await _titles(db, after_id=ids[1], limit=5) == ["p6", "p5", "p4", "p3", "p2"]
    assert await _titles(db, after_id=ids[8], limit=5) == ["p11", "p10", "p9"]
    with pytest.raises(ValueError, match="not both"):
        await get_user_posts(db, GUILD, alice, before_id=1, after_id=1)
    with pytest.raises(InvalidInput):
        await get_user_posts(db, GUILD, alice, limit=0)


async def test_posts_are_private_to_their_guild_and_member(db: Database, alice: int) -> None:
    await add_user(db, GUILD, BOB, "Bob", 30)
    await add_user(db, OTHER_GUILD, ALICE, "Ann2", 30)
    await add_post(db, GUILD, alice, "mine")
    await add_post(db, GUILD, BOB, "bob's")
    await add_post(db, OTHER_GUILD, ALICE, "elsewhere")
    assert await _titles(db) == ["mine"]
    assert [p.title for p in await get_user_posts(db, OTHER_GUILD, ALICE)] == ["elsewhere"]
    assert await get_user_posts(db, GUILD, 424242) == []


async def test_delete_post_only_ones_own(db: Database, alice: int) -> None:
    await add_user(db, GUILD, BOB, "Bob", 30)
    mine = await add_post(db, GUILD, alice, "mine")
    bobs = await add_post(db, GUILD, BOB, "bob's")
    with pytest.raises(PostNotFound) as caught:
        await delete_post(db, GUILD, alice, bobs.id)
    assert f"#{bobs.id}" in caught.value.user_message
    with pytest.raises(PostNotFound):
        await delete_post(db, OTHER_GUILD, alice, mine.id)
    deleted = await delete_post(db, GUILD, alice, mine.id)
    assert (deleted.id, deleted.title) == (mine.id, "mine")
    with pytest.raises(PostNotFound):
        await delete_post(db, GUILD, alice, mine.id)
    assert await count_posts(db, GUILD, BOB) == 1


async def test_count_posts(db: Database, alice: int) -> None:
    assert await count_posts(db, GUILD, alice) == 0
    for i in range(3):
        await add_post(db, GUILD, alice, f"p{i}")
    assert await count_posts(db, GUILD, alice) == 3
    assert await count_posts(db, GUILD, BOB) == 0


async def test_search_by_id_prefix_and_title(db: Database, alice: int) -> None:
    posts = [await add_post(db, GUILD, alice, title) for title in ("Hello world", "Shell", "Other")]
    everything = await search_user_posts(db, GUILD, alice, "")
    assert [title for _, title in everything] == ["Other", "Shell", "Hello world"]
    assert [t for _, t in await search_user_posts(db, GUILD, alice, "hEl")] == [
        "Shell",
        "Hello world",
    ]
    by_id = await search_user_posts(db, GUILD, alice, str(posts[0].id))
    assert (posts[0].id, "Hello world") in by_id
    assert (posts[0].id, "Hello world") in await search_user_posts(
        db, GUILD, alice, f"#{posts[0].id}"
    )
    assert await search_user_posts(db, GUILD, BOB, "") == []


async def test_search_treats_wildcards_literally(db: Database, alice: int) -> None:
    await add_post(db, GUILD, alice, "100% sure")
    await add_post(db, GUILD, alice, "snake_case")
    await add_post(db, GUILD, alice, "plain")
    assert [t for _, t in await search_user_posts(db, GUILD, alice, "%")] == ["100% sure"]
    assert [t for _, t in await search_user_posts(db, GUILD, alice, "_")] == ["snake_case"]


async def test_search_returns_at_most_the_limit_newest(db: Database, alice: int) -> None:
    for i in range(30):
        await add_post(db, GUILD, alice, f"post {i}")
    found = await search_user_posts(db, GUILD, alice, "")
    assert len(found) == 25
    assert found[0][1] == "post 29"
