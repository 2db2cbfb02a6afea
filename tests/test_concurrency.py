"""Concurrent writers, readers and units of work, and the bulk path, on both backends.

The unique constraint, not a read-then-insert, decides who registers; SQLite's writers queue
instead of failing with "database is locked"; a multi-statement write unit is never
interleaved with anyone else's statements; the bulk insert is one executemany.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select

from bot.db import Database, Post, User
from bot.db.posts import add_post, count_posts, delete_post, get_posts_page
from bot.db.statements import Query, Row, Statement, rows, scalar_one
from bot.db.users import add_many_users, add_user, get_user, list_users
from bot.errors import AlreadyRegistered
from bot.services import posts as post_service
from bot.services import profiles
from tests.conftest import StatementLog

GUILD = 111_000_000_000_000_001
ALICE = 300_000_000_000_000_001

_USER_TOTAL = Statement(select(func.count()).select_from(User), name="test_user_total")
_TITLES = Statement(
    select(Post.title).where(Post.guild_id == bindparam("guild_id")).order_by(Post.id),
    name="test_titles",
)
_REAL_COUNTS = Statement(
    select(Post.user_id, func.count()).group_by(Post.user_id).order_by(Post.user_id),
    name="test_real_counts",
)


def _one(found: list[Row]) -> int:
    return int(scalar_one(found))


async def _user_total(db: Database) -> int:
    return await db.read_one(Query(_USER_TOTAL, {}, _one))


async def _titles(db: Database) -> list[str]:
    found = await db.read_one(Query(_TITLES, {"guild_id": GUILD}, rows))
    return [str(title) for (title,) in found]


def _failures(outcomes: Sequence[object]) -> list[BaseException]:
    return [o for o in outcomes if isinstance(o, BaseException)]


async def test_fifty_concurrent_registrations_of_one_member_make_one_profile(
    db: Database,
) -> None:
    results = await asyncio.gather(
        *(profiles.register(db, GUILD, 42, f"Name {i}", 30) for i in range(50)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, User)]
    refused = [r for r in results if isinstance(r, AlreadyRegistered)]
    other = [r for r in results if not isinstance(r, (User, AlreadyRegistered))]
    assert other == []  # in particular, no "database is locked"
    assert (len(created), len(refused)) == (1, 49)
    assert [u.id for u in await db.read_one(list_users(GUILD))] == [created[0].id]
    assert (await db.read_one(get_user(GUILD, 42))).name == created[0].name


async def test_fifty_writers_and_fifty_readers_at_once(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    for i in range(5):
        await db.write_one(add_post(GUILD, ALICE, f"seed {i}"))

    async def reader() -> tuple[int, int]:
        # One statement, one snapshot: the kept count and the rows agree in every read.
        page = await db.read_one(get_posts_page(GUILD, ALICE, limit=100))
        return page.owner.post_count, len(page.posts)

    outcomes = await asyncio.gather(
        *(db.write_one(add_post(GUILD, ALICE, f"w{i}")) for i in range(50)),
        *(reader() for _ in range(50)),
        return_exceptions=True,
    )
    assert _failures(outcomes) == []
    written = [o for o in outcomes[:50] if isinstance(o, Post)]
    reads = [o for o in outcomes[50:] if isinstance(o, tuple)]
    assert len(written) == len(reads) == 50
    assert all(kept == seen and 5 <= kept <= 55 for kept, seen in reads), reads
    assert len({p.id for p in written}) == 50
    assert await db.read_one(count_posts(GUILD, ALICE)) == 55
    titles = await _titles(db)
    assert sorted(titles) == sorted([f"seed {i}" for i in range(5)] + [f"w{i}" for i in range(50)])


async def test_read_units_beside_writers_each_see_one_snapshot(db: Database) -> None:
    """More read units than SQLite has readers wait for one; each sees a single moment."""
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))

    async def two_reads() -> tuple[int, int]:
        async with db.read() as unit:
            counted = await unit.run(count_posts(GUILD, ALICE))
            await asyncio.sleep(0)  # writers get in between the two statements
            listed = await unit.run(get_posts_page(GUILD, ALICE, limit=100))
        return counted, len(listed.posts)

    outcomes = await asyncio.gather(
        *(db.write_one(add_post(GUILD, ALICE, f"w{i}")) for i in range(40)),
        *(two_reads() for _ in range(20)),
        return_exceptions=True,
    )
    assert _failures(outcomes) == []
    reads = [o for o in outcomes[40:] if isinstance(o, tuple)]
    assert len(reads) == 20
    assert all(counted == listed for counted, listed in reads), reads
    assert await db.read_one(count_posts(GUILD, ALICE)) == 40


async def test_fifty_concurrent_writers_for_different_members_all_succeed(db: Database) -> None:
    results = await asyncio.gather(
        *(db.write_one(add_user(GUILD, 1000 + i, f"Member {i}", 20 + i)) for i in range(50)),
        *(db.read_one(list_users(GUILD)) for _ in range(50)),
        return_exceptions=True,
    )
    assert _failures(results) == []
    assert all(isinstance(r, User) for r in results[:50])
    assert await _user_total(db) == 50
    listed = await db.read_one(list_users(GUILD))
    assert sorted(u.discord_id for u in listed) == [1000 + i for i in range(50)]


async def test_write_units_and_single_writes_at_once_all_commit_whole(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))

    async def unit_of_two(i: int) -> tuple[int, int]:
        async with db.write() as unit:
            first = await unit.run(add_post(GUILD, ALICE, f"u{i}a"))
            await asyncio.sleep(0)  # let everyone else in, if anything could get in
            second = await unit.run(add_post(GUILD, ALICE, f"u{i}b"))
        return first.id, second.id

    outcomes = await asyncio.gather(
        *(unit_of_two(i) for i in range(50)),
        *(db.write_one(add_post(GUILD, ALICE, f"s{i}")) for i in range(50)),
        return_exceptions=True,
    )
    assert _failures(outcomes) == []  # in particular, no "database is locked"
    titles = await _titles(db)
    assert len(titles) == 150
    expected = {f"u{i}{part}" for i in range(50) for part in "ab"} | {f"s{i}" for i in range(50)}
    assert set(titles) == expected
    assert await db.read_one(count_posts(GUILD, ALICE)) == 150


async def test_a_unit_rolling_back_takes_none_of_the_concurrent_single_writes(
    db: Database,
) -> None:
    """Nothing slips into another unit's transaction, where its rollback would undo it."""
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))

    class Abandon(Exception):
        pass

    async def abandoned(i: int) -> None:
        async with db.write() as unit:
            await unit.run(add_post(GUILD, ALICE, f"abandoned {i}"))
            await asyncio.sleep(0)
            await unit.run(add_post(GUILD, ALICE, f"abandoned {i} again"))
            await asyncio.sleep(0)
            raise Abandon

    outcomes = await asyncio.gather(
        *(abandoned(i) for i in range(25)),
        *(db.write_one(add_post(GUILD, ALICE, f"kept {i}")) for i in range(50)),
        return_exceptions=True,
    )
    assert all(isinstance(o, Abandon) for o in outcomes[:25])
    assert _failures(outcomes[25:]) == []
    assert sorted(await _titles(db)) == sorted(f"kept {i}" for i in range(50))
    assert await db.read_one(count_posts(GUILD, ALICE)) == 50


async def test_concurrent_publishing_and_deleting_keep_the_count_exact(db: Database) -> None:
    await db.write_one(add_user(GUILD, ALICE, "Ann", 30))
    await db.write_one(add_user(GUILD, ALICE + 1, "Bob", 30))
    first = [await db.write_one(add_post(GUILD, ALICE, f"old {i}")) for i in range(30)]
    outcomes = await asyncio.gather(
        *(post_service.delete(db, GUILD, ALICE, p.id) for p in first),
        *(post_service.publish(db, GUILD, ALICE, f"new {i}", None) for i in range(30)),
        *(post_service.publish(db, GUILD, ALICE + 1, f"bob {i}", None) for i in range(20)),
        *(post_service.page_of_posts(db, GUILD, ALICE) for _ in range(20)),
        return_exceptions=True,
    )
    assert _failures(outcomes) == []
    assert await db.read_one(count_posts(GUILD, ALICE)) == 30
    assert await db.read_one(count_posts(GUILD, ALICE + 1)) == 20
    real = await db.read_one(Query(_REAL_COUNTS, {}, rows))
    users = await db.read_one(list_users(GUILD))
    assert sorted((u.id, u.post_count) for u in users) == [tuple(r) for r in real]
    # Deleting the same post twice at once: exactly one succeeds.
    post = await db.write_one(add_post(GUILD, ALICE, "contested"))
    twice = await asyncio.gather(
        *(db.write_one(delete_post(GUILD, ALICE, post.id)) for _ in range(10)),
        return_exceptions=True,
    )
    assert len([t for t in twice if isinstance(t, Post)]) == 1
    assert await db.read_one(count_posts(GUILD, ALICE)) == 30


async def test_add_many_users_of_100k_rows_is_one_executemany(
    db: Database, statements: StatementLog
) -> None:
    rows_in = [(10_000_000 + i, f"user{i}", 13 + i % 100) for i in range(100_000)]
    assert await db.write_one(add_many_users(GUILD, rows_in)) == 100_000
    inserts = [sql for sql in statements.statements if sql.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1, f"expected one executemany, got {len(inserts)} INSERT statements"
    assert statements.count == 1
    assert await _user_total(db) == 100_000
    last = await db.read_one(get_user(GUILD, 10_000_000 + 99_999))
    assert (last.name, last.age, last.post_count) == ("user99999", 13 + 99_999 % 100, 0)
