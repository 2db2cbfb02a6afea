"""Posts: publishing, keyset pages, deletion of one's own posts, counting and searching.

The queries of ``bot.db.posts`` run by a ``Database`` on both backends; what the commands do
with them (page numbers, suggestions) through ``bot.services.posts``.
"""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import bindparam, insert

from bot.db import Database, Post
from bot.db.posts import (
    PAGE_MAX,
    add_post,
    count_posts,
    delete_post,
    get_posts_page,
    get_user_posts,
    search_user_posts,
)
from bot.db.statements import Query, Statement, nothing
from bot.db.types import utcnow
from bot.db.users import add_user, get_user
from bot.errors import InvalidInput, NotRegistered, PostNotFound
from bot.services import posts as post_service
from bot.services.posts import POSTS_PER_PAGE, Direction
from tests.conftest import StatementLog

GUILD = 111_000_000_000_000_001
OTHER_GUILD = 222_000_000_000_000_002
ALICE = 300_000_000_000_000_001
BOB = 300_000_000_000_000_002


@pytest.fixture
async def alice(db: Database) -> int:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    return ALICE


async def _titles(db: Database, **page: int) -> list[str]:
    return [p.title for p in await db.read_one(get_user_posts(GUILD, ALICE, **page))]


async def _count(db: Database, guild_id: int, member_id: int) -> int:
    return await db.read_one(count_posts(guild_id, member_id))


async def _search(db: Database, member_id: int, text: str, **limit: int) -> list[str]:
    found = await db.read_one(search_user_posts(GUILD, member_id, text, **limit))
    return [str(title) for _, title in found]


async def test_add_post_returns_the_stored_post(db: Database, alice: int) -> None:
    query = add_post(GUILD, alice, "  Hello  ", "  first body\r\nline two  ")
    post = await db.write_one(query)
    assert post.id > 0
    assert (post.title, post.body) == ("Hello", "first body\nline two")
    assert post.created_at.tzinfo is UTC
    owner = await db.read_one(get_user(GUILD, alice))
    assert post.to_dict() == {
        "id": post.id,
        "user_id": owner.id,
        "guild_id": GUILD,
        "title": "Hello",
        "body": "first body\nline two",
        "created_at": query.params["now"],
    }
    (stored,) = await db.read_one(get_user_posts(GUILD, alice))
    assert stored.to_dict() == post.to_dict()
    assert (await db.write_one(add_post(GUILD, alice, "No body", "   "))).body is None


async def test_add_post_needs_a_profile_in_that_guild(db: Database, alice: int) -> None:
    with pytest.raises(NotRegistered):
        await db.write_one(add_post(OTHER_GUILD, alice, "Hello"))
    with pytest.raises(NotRegistered):
        await post_service.publish(db, GUILD, BOB, "Hello", None)
    assert await _count(db, OTHER_GUILD, alice) == 0
    assert await _count(db, GUILD, alice) == 0
    published = await post_service.publish(db, GUILD, alice, "Hello", "body")
    assert (published.title, published.body) == ("Hello", "body")
    assert await _count(db, GUILD, alice) == 1


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
    db: Database, alice: int, statements: StatementLog, *, title: str, body: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        add_post(GUILD, alice, title, body)  # refused while building
    assert caught.value.field == field
    with pytest.raises(InvalidInput):
        await post_service.publish(db, GUILD, alice, title, body)
    assert statements.count == 0
    assert await _count(db, GUILD, alice) == 0


async def test_limits_are_inclusive(db: Database, alice: int) -> None:
    post = await db.write_one(add_post(GUILD, alice, "t" * 256, "b" * 4000))
    assert (len(post.title), len(post.body or "")) == (256, 4000)
    (stored,) = await db.read_one(get_user_posts(GUILD, alice))
    assert (stored.title, stored.body) == (post.title, post.body)


async def test_keyset_pages_newest_first(db: Database, alice: int) -> None:
    posts = [await db.write_one(add_post(GUILD, alice, f"p{i}")) for i in range(12)]
    ids = [p.id for p in posts]
    assert ids == sorted(ids)
    assert await _titles(db, limit=5) == ["p11", "p10", "p9", "p8", "p7"]
    assert await _titles(db, before_id=ids[7], limit=5) == ["p6", "p5", "p4", "p3", "p2"]
    assert await _titles(db, before_id=ids[2], limit=5) == ["p1", "p0"]
    assert await _titles(db, before_id=ids[0], limit=5) == []
    # Going back: the page just above an id, still newest first.
    assert await _titles(db, after_id=ids[1], limit=5) == ["p6", "p5", "p4", "p3", "p2"]
    assert await _titles(db, after_id=ids[8], limit=5) == ["p11", "p10", "p9"]
    assert await _titles(db, after_id=ids[11], limit=5) == []
    assert await _titles(db, limit=PAGE_MAX) == [f"p{i}" for i in reversed(range(12))]
    with pytest.raises(ValueError, match="not both"):
        get_user_posts(GUILD, alice, before_id=1, after_id=1)
    for limit in (0, PAGE_MAX + 1):
        with pytest.raises(InvalidInput):
            get_user_posts(GUILD, alice, limit=limit)
        with pytest.raises(InvalidInput):
            get_posts_page(GUILD, alice, limit=limit)


async def test_posts_page_carries_its_owner(
    db: Database, alice: int, statements: StatementLog
) -> None:
    for i in range(7):
        await db.write_one(add_post(GUILD, alice, f"p{i}"))
    statements.clear()
    page = await db.read_one(get_posts_page(GUILD, alice, limit=3))
    assert statements.count == 1  # the profile, its count and the page in one statement
    assert (page.owner.discord_id, page.owner.name, page.owner.post_count) == (alice, "Ann", 7)
    assert [p.title for p in page.posts] == ["p6", "p5", "p4"]
    assert all(p.user_id == page.owner.id for p in page.posts)
    older = await db.read_one(get_posts_page(GUILD, alice, before_id=page.posts[-1].id, limit=3))
    assert [p.title for p in older.posts] == ["p3", "p2", "p1"]
    # A page past the end still has its owner.
    empty = await db.read_one(get_posts_page(GUILD, alice, before_id=1, limit=3))
    assert (empty.owner.name, empty.posts) == ("Ann", [])
    with pytest.raises(NotRegistered):
        await db.read_one(get_posts_page(GUILD, BOB))
    with pytest.raises(NotRegistered):
        await db.read_one(get_posts_page(OTHER_GUILD, alice))


async def test_posts_are_private_to_their_guild_and_member(db: Database, alice: int) -> None:
    await db.write_one(add_user(GUILD, BOB, "Bob", 30))
    await db.write_one(add_user(OTHER_GUILD, ALICE, "Ann2", 30))
    await db.write_one(add_post(GUILD, alice, "mine"))
    await db.write_one(add_post(GUILD, BOB, "bob's"))
    await db.write_one(add_post(OTHER_GUILD, ALICE, "elsewhere"))
    assert await _titles(db) == ["mine"]
    assert [p.title for p in await db.read_one(get_user_posts(OTHER_GUILD, ALICE))] == ["elsewhere"]
    assert await db.read_one(get_user_posts(GUILD, 424242)) == []
    page = await db.read_one(get_posts_page(GUILD, BOB))
    assert [p.title for p in page.posts] == ["bob's"]


async def test_delete_post_only_ones_own(db: Database, alice: int) -> None:
    await db.write_one(add_user(GUILD, BOB, "Bob", 30))
    mine = await db.write_one(add_post(GUILD, alice, "mine"))
    bobs = await db.write_one(add_post(GUILD, BOB, "bob's"))
    with pytest.raises(PostNotFound) as caught:
        await post_service.delete(db, GUILD, alice, bobs.id)
    assert f"#{bobs.id}" in caught.value.user_message
    assert caught.value.post_id == bobs.id
    with pytest.raises(PostNotFound):
        await db.write_one(delete_post(OTHER_GUILD, alice, mine.id))
    deleted = await post_service.delete(db, GUILD, alice, mine.id)
    assert deleted.to_dict() == mine.to_dict()
    with pytest.raises(PostNotFound):
        await db.write_one(delete_post(GUILD, alice, mine.id))
    assert await _count(db, GUILD, BOB) == 1
    assert await _count(db, GUILD, alice) == 0
    assert [p.title for p in await db.read_one(get_user_posts(GUILD, BOB))] == ["bob's"]


async def test_count_posts(db: Database, alice: int) -> None:
    assert await _count(db, GUILD, alice) == 0
    posts = [await db.write_one(add_post(GUILD, alice, f"p{i}")) for i in range(3)]
    assert await _count(db, GUILD, alice) == 3
    await db.write_one(delete_post(GUILD, alice, posts[1].id))
    assert await _count(db, GUILD, alice) == 2
    assert await _count(db, GUILD, BOB) == 0  # no profile: no posts
    assert await _count(db, OTHER_GUILD, alice) == 0


# --- searching ----------------------------------------------------------------------------
# Every typed word must begin a word of the title (at its start or after a space), in any
# order, case-insensitively; digits also match the start of a post id.


async def test_search_by_title_and_id_prefix(db: Database, alice: int) -> None:
    posts = [
        await db.write_one(add_post(GUILD, alice, title))
        for title in ("Hello world", "Shell", "Other")
    ]
    assert await _search(db, alice, "") == ["Other", "Shell", "Hello world"]
    assert await _search(db, alice, "   ") == ["Other", "Shell", "Hello world"]
    assert await _search(db, alice, "hEl") == ["Hello world"]
    assert await _search(db, alice, "WOR") == ["Hello world"]
    assert await _search(db, alice, "shell") == ["Shell"]
    assert await _search(db, alice, "ell") == []  # inside a word, not at its start
    by_id = await db.read_one(search_user_posts(GUILD, alice, str(posts[0].id)))
    assert (posts[0].id, "Hello world") in [tuple(row) for row in by_id]
    by_hash = await db.read_one(search_user_posts(GUILD, alice, f"#{posts[0].id}"))
    assert (posts[0].id, "Hello world") in [tuple(row) for row in by_hash]
    assert await db.read_one(search_user_posts(GUILD, BOB, "")) == []
    assert await _search(db, alice, "nothing like it") == []


async def test_search_matches_every_word_in_any_order(db: Database, alice: int) -> None:
    for title in ("Hello big world", "World of hello", "hello there", "worldly matters"):
        await db.write_one(add_post(GUILD, alice, title))
    assert await _search(db, alice, "world hello") == ["World of hello", "Hello big world"]
    assert await _search(db, alice, "  HELLO   WORLD  ") == ["World of hello", "Hello big world"]
    assert await _search(db, alice, "wor") == [
        "worldly matters",
        "World of hello",
        "Hello big world",
    ]
    assert await _search(db, alice, "th hel") == ["hello there"]
    # Every word must be there: one missing word rules a post out.
    assert await _search(db, alice, "hello world there") == []
    assert await _search(db, alice, "there hello") == ["hello there"]


async def test_search_is_case_insensitive_beyond_ascii(
    db: Database,
    alice: int,
) -> None:
    await db.write_one(add_post(GUILD, alice, "Élan café ΣΟΦΙΑ"))
    for typed in ("élan", "ÉLAN", "CAFÉ", "σοφια"):
        assert await _search(db, alice, typed) == ["Élan café ΣΟΦΙΑ"], typed


async def test_search_counts_the_first_five_words(db: Database, alice: int) -> None:
    await db.write_one(add_post(GUILD, alice, "one two three four five"))
    assert await _search(db, alice, "five four three two one") == ["one two three four five"]
    # A sixth word is past the limit and ignored …
    assert await _search(db, alice, "one two three four five zzz") == ["one two three four five"]
    # … while a fifth that does not match rules the post out.
    assert await _search(db, alice, "one two three four zzz") == []


async def test_search_by_id_prefix_finds_each_post_starting_with_the_digits(
    db: Database, alice: int
) -> None:
    posts = [await db.write_one(add_post(GUILD, alice, f"post {i}")) for i in range(12)]
    target = posts[-1]
    digits = str(target.id)
    for typed in (digits, f"#{digits}", f" #{digits} "):
        found = await db.read_one(search_user_posts(GUILD, alice, typed))
        assert target.id in [row[0] for row in found], typed
    # Digits match an id's start or a title word's start ("post 1", "post 10", …).
    prefix = digits[0]
    expected = sorted(
        (
            p.id
            for p in posts
            if str(p.id).startswith(prefix) or any(w.startswith(prefix) for w in p.title.split())
        ),
        reverse=True,
    )
    found = await db.read_one(search_user_posts(GUILD, alice, prefix))
    assert [row[0] for row in found] == expected
    # A number in no id and no title finds nothing; "#" and letters are no id.
    assert await _search(db, alice, "#987654321987") == []
    assert await _search(db, alice, f"#x{digits}") == []


async def test_search_by_id_prefix_matches_only_the_start(db: Database, alice: int) -> None:
    ids = [(await db.write_one(add_post(GUILD, alice, "untitled"))).id for _ in range(12)]
    differs_from_anywhere = False
    for digit in "0123456789":
        found = await db.read_one(search_user_posts(GUILD, alice, digit))
        expected = sorted((i for i in ids if str(i).startswith(digit)), reverse=True)
        assert [row[0] for row in found] == expected, digit
        differs_from_anywhere |= expected != [i for i in reversed(ids) if digit in str(i)]
    # Twelve ids in a row always have a digit that appears inside one but starts another.
    assert differs_from_anywhere


async def test_search_treats_wildcards_literally(db: Database, alice: int) -> None:
    for title in ("100% sure", "% done", "snake_case", "_private", "back\\slash", "plain"):
        await db.write_one(add_post(GUILD, alice, title))
    assert await _search(db, alice, "%") == ["% done"]
    assert await _search(db, alice, "_") == ["_private"]
    assert await _search(db, alice, "100%") == ["100% sure"]
    assert await _search(db, alice, "snake_") == ["snake_case"]
    assert await _search(db, alice, "back\\") == ["back\\slash"]
    # As wildcards these would match "100% sure", "snake_case" and "plain".
    assert await _search(db, alice, "10%") == []
    assert await _search(db, alice, "sn_ke") == []
    assert await _search(db, alice, "%lain") == []
    # The escape character itself is literal too: two backslashes are not one.
    assert await _search(db, alice, "back\\\\") == []


async def test_search_returns_at_most_the_limit_newest(db: Database, alice: int) -> None:
    for i in range(30):
        await db.write_one(add_post(GUILD, alice, f"post {i}"))
    found = await _search(db, alice, "")
    assert found == [f"post {i}" for i in range(29, 4, -1)]  # the default limit: 25
    assert await _search(db, alice, "post", limit=3) == ["post 29", "post 28", "post 27"]
    assert len(await _search(db, alice, "post", limit=PAGE_MAX)) == 30
    with pytest.raises(InvalidInput):
        search_user_posts(GUILD, alice, "", limit=0)
    with pytest.raises(InvalidInput):
        search_user_posts(GUILD, alice, "", limit=PAGE_MAX + 1)


async def test_suggestions_are_id_and_title_pairs(db: Database, alice: int) -> None:
    await db.write_one(add_user(GUILD, BOB, "Bob", 30))
    made = [await db.write_one(add_post(GUILD, alice, f"note {i}")) for i in range(30)]
    bobs = await db.write_one(add_post(GUILD, BOB, "note from bob"))
    found = await post_service.suggestions(db, GUILD, alice, "NOTE")
    assert found == [(p.id, p.title) for p in reversed(made)][: post_service.SUGGESTIONS]
    assert all(isinstance(i, tuple) for i in found)
    assert await post_service.suggestions(db, GUILD, BOB, "bob") == [(bobs.id, "note from bob")]
    assert await post_service.suggestions(db, GUILD, alice, "bob") == []
    assert await post_service.suggestions(db, OTHER_GUILD, alice, "") == []


# --- the /myposts pages -------------------------------------------------------------------


async def test_page_of_posts_walks_older_and_newer(db: Database, alice: int) -> None:
    posts = [await db.write_one(add_post(GUILD, alice, f"p{i}")) for i in range(12)]
    first = await post_service.page_of_posts(db, GUILD, alice)
    assert [p.title for p in first.posts] == ["p11", "p10", "p9", "p8", "p7"]
    assert (first.page, first.pages, first.total) == (1, 3, 12)
    assert (first.has_newer, first.has_older) == (False, True)
    second = await post_service.page_of_posts(
        db, GUILD, alice, direction=Direction.OLDER, cursor=first.posts[-1].id, page=first.page
    )
    assert [p.title for p in second.posts] == ["p6", "p5", "p4", "p3", "p2"]
    assert (second.page, second.has_newer, second.has_older) == (2, True, True)
    third = await post_service.page_of_posts(
        db, GUILD, alice, direction=Direction.OLDER, cursor=second.posts[-1].id, page=second.page
    )
    assert [p.title for p in third.posts] == ["p1", "p0"]
    assert (third.page, third.has_newer, third.has_older) == (3, True, False)
    back = await post_service.page_of_posts(
        db, GUILD, alice, direction=Direction.NEWER, cursor=third.posts[0].id, page=third.page
    )
    assert [p.title for p in back.posts] == ["p6", "p5", "p4", "p3", "p2"]
    assert (back.page, back.has_newer, back.has_older) == (2, True, True)
    top = await post_service.page_of_posts(
        db, GUILD, alice, direction=Direction.NEWER, cursor=back.posts[0].id, page=back.page
    )
    assert [p.title for p in top.posts] == ["p11", "p10", "p9", "p8", "p7"]
    assert (top.page, top.has_newer, top.has_older) == (1, False, True)
    assert [p.id for p in top.posts] == [p.id for p in reversed(posts[7:])]


async def test_page_of_posts_with_one_page_or_none(db: Database, alice: int) -> None:
    empty = await post_service.page_of_posts(db, GUILD, alice)
    assert (empty.posts, empty.page, empty.pages, empty.total) == ([], 1, 1, 0)
    assert (empty.has_newer, empty.has_older) == (False, False)
    for i in range(POSTS_PER_PAGE):
        await db.write_one(add_post(GUILD, alice, f"p{i}"))
    full = await post_service.page_of_posts(db, GUILD, alice)
    assert len(full.posts) == POSTS_PER_PAGE
    assert (full.page, full.pages, full.has_newer, full.has_older) == (1, 1, False, False)
    with pytest.raises(NotRegistered):
        await post_service.page_of_posts(db, GUILD, BOB)


async def test_a_page_whose_posts_went_starts_again_from_the_newest(
    db: Database, alice: int
) -> None:
    posts = [await db.write_one(add_post(GUILD, alice, f"p{i}")) for i in range(7)]
    first = await post_service.page_of_posts(db, GUILD, alice)
    for post in posts[:2]:  # everything on the second page
        await post_service.delete(db, GUILD, alice, post.id)
    again = await post_service.page_of_posts(
        db, GUILD, alice, direction=Direction.OLDER, cursor=first.posts[-1].id, page=1
    )
    assert [p.title for p in again.posts] == ["p6", "p5", "p4", "p3", "p2"]
    assert (again.page, again.pages, again.total) == (1, 1, 5)
    assert (again.has_newer, again.has_older) == (False, False)


_MANY_POSTS = Statement(
    insert(Post).values(
        user_id=bindparam("user_id"),
        guild_id=bindparam("guild_id"),
        title=bindparam("title"),
        body=None,
        created_at=bindparam("now", type_=Post.created_at.type),
    ),
    name="test_many_posts",
)


async def test_pages_at_depth_return_every_post_once(
    db: Database, alice: int, statements: StatementLog
) -> None:
    owner = await db.read_one(get_user(GUILD, alice))
    now = utcnow()
    batch = [
        {"user_id": owner.id, "guild_id": GUILD, "title": f"p{i}", "now": now} for i in range(1000)
    ]
    await db.write_one(Query(_MANY_POSTS, {}, nothing, many=batch))
    assert await _count(db, GUILD, alice) == 1000  # the trigger counted every row
    statements.clear()
    seen: list[int] = []
    page = await db.read_one(get_posts_page(GUILD, alice, limit=PAGE_MAX))
    pages = 1
    while page.posts:
        assert page.owner.post_count == 1000
        seen.extend(p.id for p in page.posts)
        page = await db.read_one(
            get_posts_page(GUILD, alice, before_id=page.posts[-1].id, limit=PAGE_MAX)
        )
        pages += 1
    assert statements.count == pages  # one statement per page, however deep
    assert len(seen) == len(set(seen)) == 1000
    assert seen == sorted(seen, reverse=True)
    titles = [p.title for p in await db.read_one(get_user_posts(GUILD, alice, limit=3))]
    assert titles == ["p999", "p998", "p997"]
    # And back up with after_id, a page of 7 at a time: every post again, once each.
    back: list[int] = []
    cursor = seen[-1] - 1
    while True:
        newer = await db.read_one(get_user_posts(GUILD, alice, after_id=cursor, limit=7))
        if not newer:
            break
        assert [p.id for p in newer] == sorted((p.id for p in newer), reverse=True)
        back = [p.id for p in newer] + back
        cursor = newer[0].id
    assert back == seen
