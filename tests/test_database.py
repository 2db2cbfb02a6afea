"""The data layer's machinery on both backends: post counts kept by triggers, units of work,
driver errors in the data layer's terms, and what is sent and compiled for each query."""

from __future__ import annotations

import asyncio
import gc
import itertools
import sqlite3
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    bindparam,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.engine import Dialect

from bot.db import Database, Post, User, command_syncs, posts, users
from bot.db.errors import (
    DatabaseError,
    DatabaseUnavailable,
    ForeignKeyViolation,
    UniqueViolation,
)
from bot.db.migrate import current_revision, downgrade, migration_engine, upgrade
from bot.db.statements import Prepared, Query, Row, Statement, nothing, rows, scalar_one
from bot.db.types import UTCDateTime, utcnow
from bot.errors import AlreadyRegistered, NotRegistered, PostNotFound
from bot.services import posts as post_service
from bot.services import profiles
from tests.conftest import StatementLog

GUILD = 111_000_000_000_000_001
OTHER_GUILD = 222_000_000_000_000_002
ALICE = 300_000_000_000_000_001
BOB = 300_000_000_000_000_002
CAROL = 300_000_000_000_000_003


class Boom(Exception):
    """Raised inside a unit of work to make it roll back."""


# --- statements the tests send through the data layer --------------------------------------

# Each profile of a guild with its kept post_count and the real number of its posts.
_COUNTS = Statement(
    select(
        User.discord_id,
        User.post_count,
        select(func.count())
        .select_from(Post)
        .where(Post.user_id == User.id)
        .scalar_subquery()
        .label("real"),
    )
    .where(User.guild_id == bindparam("guild_id"))
    .order_by(User.discord_id),
    name="test_counts",
)
# Posts whose profile is gone (there must never be any).
_ORPHANS = Statement(
    select(func.count()).select_from(Post).where(~exists().where(User.id == Post.user_id)),
    name="test_orphans",
)
_POST_TOTAL = Statement(select(func.count()).select_from(Post), name="test_post_total")
_RAW_POST = Statement(
    insert(Post).values(
        user_id=bindparam("user_id"),
        guild_id=bindparam("guild_id"),
        title=bindparam("title"),
        body=None,
        created_at=bindparam("now", type_=Post.created_at.type),
    ),
    name="test_raw_post",
)
_RAW_POST_WITH_ID = Statement(
    insert(Post).values(
        id=bindparam("id"),
        user_id=bindparam("user_id"),
        guild_id=bindparam("guild_id"),
        title=bindparam("title"),
        body=None,
        created_at=bindparam("now", type_=Post.created_at.type),
    ),
    name="test_raw_post_with_id",
)
# One statement that adds a copy of every post in a guild (many rows, several owners) ...
_COPY_ALL = Statement(
    insert(Post)
    .from_select(
        ["user_id", "guild_id", "title", "body", "created_at"],
        select(Post.user_id, Post.guild_id, Post.title, Post.body, Post.created_at).where(
            Post.guild_id == bindparam("guild_id")
        ),
    )
    .returning(Post.id, Post.user_id),
    name="test_copy_all",
)
# ... and one that deletes every post of a guild whose id has the given remainder mod 2.
_PURGE_HALF = Statement(
    delete(Post)
    .where(Post.guild_id == bindparam("guild_id"), Post.id % 2 == bindparam("remainder"))
    .returning(Post.id, Post.user_id),
    name="test_purge_half",
)


def _one(found: list[Row]) -> int:
    return int(scalar_one(found))


async def _post_total(db: Database) -> int:
    return await db.read_one(Query(_POST_TOTAL, {}, _one))


async def _counts(db: Database, guild_id: int) -> dict[int, tuple[int, int]]:
    found = await db.read_one(Query(_COUNTS, {"guild_id": guild_id}, rows))
    return {int(member): (int(kept), int(real)) for member, kept, real in found}


def _raw_post(user_id: int, title: str = "raw", guild_id: int = GUILD) -> Query[None]:
    params = {"user_id": user_id, "guild_id": guild_id, "title": title, "now": utcnow()}
    return Query(_RAW_POST, params, nothing)


# --- post_count is the number of posts ------------------------------------------------------

MEMBERS = (ALICE, BOB, CAROL)
_GUILDS = itertools.count(1)


class _Guild:
    """One guild driven through a random sequence of steps, with what it should hold.

    Each step is a method taking the member and a small number; after every step the kept
    counts, the real counts and the expected ones must all agree.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.id = next(_GUILDS)  # a guild of its own per example: nothing to clean up
        self.posts: dict[int, list[int]] = {}  # each registered member's post ids
        self.member_of: dict[int, int] = {}  # profile id -> member

    async def register(self, member: int, _n: int) -> None:
        if member in self.posts:
            with pytest.raises(AlreadyRegistered):
                await self.db.write_one(users.add_user(self.id, member, "Member", 30))
            return
        user = await self.db.write_one(users.add_user(self.id, member, "Member", 30))
        self.posts[member] = []
        self.member_of[user.id] = member

    async def post(self, member: int, n: int) -> None:
        if member not in self.posts:
            with pytest.raises(NotRegistered):
                await self.db.write_one(posts.add_post(self.id, member, f"p{n}"))
            return
        post = await self.db.write_one(posts.add_post(self.id, member, f"p{n}"))
        self.posts[member].append(post.id)

    async def _unit(self, member: int, count: int, *, fail: bool) -> list[int]:
        async with self.db.write() as unit:
            made = [await unit.run(posts.add_post(self.id, member, "u")) for _ in range(count)]
            if fail:
                raise Boom
        return [p.id for p in made]

    async def posts_in_unit(self, member: int, n: int) -> None:
        if member not in self.posts:
            with pytest.raises(NotRegistered):
                await self._unit(member, n + 1, fail=False)
            return
        self.posts[member].extend(await self._unit(member, n + 1, fail=False))

    async def failed_unit(self, member: int, n: int) -> None:
        with pytest.raises(Boom if member in self.posts else NotRegistered):
            await self._unit(member, n + 1, fail=True)

    async def delete_post(self, member: int, n: int) -> None:
        own = self.posts.get(member, [])
        if not own:
            with pytest.raises(PostNotFound):
                await self.db.write_one(posts.delete_post(self.id, member, n + 1))
            return
        post_id = own.pop(n % len(own))
        assert (await self.db.write_one(posts.delete_post(self.id, member, post_id))).id == post_id

    async def delete_other(self, member: int, n: int) -> None:
        """Someone else's post: not found, and nobody's count moves."""
        others = [p for m, ids in self.posts.items() if m != member for p in ids]
        if others:
            with pytest.raises(PostNotFound):
                await self.db.write_one(posts.delete_post(self.id, member, others[n % len(others)]))

    async def leave(self, member: int, _n: int) -> None:
        if member not in self.posts:
            with pytest.raises(NotRegistered):
                await self.db.write_one(users.delete_user(self.id, member))
            return
        gone = await self.db.write_one(users.delete_user(self.id, member))
        assert gone == len(self.posts.pop(member))

    async def copy_all(self, _member: int, _n: int) -> None:
        """One statement inserting many rows for several owners."""
        copied = await self.db.write_one(Query(_COPY_ALL, {"guild_id": self.id}, rows))
        for post_id, user_id in copied:
            self.posts[self.member_of[user_id]].append(post_id)

    async def purge_half(self, _member: int, n: int) -> None:
        """One statement deleting many rows of several owners."""
        params = {"guild_id": self.id, "remainder": n % 2}
        for post_id, user_id in await self.db.write_one(Query(_PURGE_HALF, params, rows)):
            self.posts[self.member_of[user_id]].remove(post_id)

    async def check(self, step: object) -> None:
        expected = {member: (len(ids), len(ids)) for member, ids in self.posts.items()}
        assert await _counts(self.db, self.id) == expected, step
        assert await self.db.read_one(Query(_ORPHANS, {}, _one)) == 0, step


KINDS = (
    "register",
    "post",
    "posts_in_unit",
    "failed_unit",
    "delete_post",
    "delete_other",
    "leave",
    "copy_all",
    "purge_half",
)


steps_strategy = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, len(MEMBERS) - 1), st.integers(0, 9)),
    max_size=20,
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=steps_strategy)
async def test_post_count_always_equals_the_number_of_posts(
    db: Database, steps: list[tuple[str, int, int]]
) -> None:
    guild = _Guild(db)
    for step in [("register", 0, 0), ("register", 1, 0), *steps]:
        kind, member, n = step
        await getattr(guild, kind)(MEMBERS[member], n)
        await guild.check(step)
    for member, ids in guild.posts.items():
        assert (await db.read_one(users.get_user(guild.id, member))).post_count == len(ids)
        assert await db.read_one(posts.count_posts(guild.id, member)) == len(ids)


async def test_deleting_a_member_with_posts_leaves_no_orphans(db: Database) -> None:
    await db.write_one(users.add_user(GUILD, ALICE, "Ann", 30))
    await db.write_one(users.add_user(GUILD, BOB, "Bob", 30))
    for i in range(25):
        await db.write_one(posts.add_post(GUILD, ALICE, f"a{i}"))
    await db.write_one(posts.add_post(GUILD, BOB, "b"))
    assert (await profiles.leave(db, GUILD, ALICE))[0] == 25
    assert await db.read_one(Query(_ORPHANS, {}, _one)) == 0
    assert await _post_total(db) == 1
    assert await _counts(db, GUILD) == {BOB: (1, 1)}
    # Registering again starts from nothing.
    await profiles.register(db, GUILD, ALICE, "Ann", 30)
    assert (await profiles.profile(db, GUILD, ALICE)).post_count == 0
    assert await db.read_one(posts.get_user_posts(GUILD, ALICE)) == []


_OLD_USERS = table(
    "users",
    column("id"),
    column("guild_id"),
    column("discord_id"),
    column("name"),
    column("age"),
    column("created_at", UTCDateTime()),
    column("updated_at", UTCDateTime()),
)
_OLD_POSTS = table(
    "posts",
    column("user_id"),
    column("guild_id"),
    column("title"),
    column("body"),
    column("created_at", UTCDateTime()),
)


async def test_migration_0002_backfills_the_counts(db: Database) -> None:
    await db.close()
    await downgrade(db, "0001")
    assert await current_revision(db) == "0001"
    now = utcnow()
    owners = {
        1: (GUILD, ALICE, 0),
        2: (GUILD, BOB, 1),
        3: (GUILD, CAROL, 5),
        4: (OTHER_GUILD, ALICE, 2),
    }
    engine = migration_engine(db.url)
    try:
        async with engine.begin() as connection:
            for user_id, (guild, member, _) in owners.items():
                await connection.execute(
                    insert(_OLD_USERS).values(
                        id=user_id,
                        guild_id=guild,
                        discord_id=member,
                        name="Old",
                        age=40,
                        created_at=now,
                        updated_at=now,
                    )
                )
            for user_id, (guild, _, count) in owners.items():
                for i in range(count):
                    await connection.execute(
                        insert(_OLD_POSTS).values(
                            user_id=user_id,
                            guild_id=guild,
                            title=f"t{i}",
                            body=None,
                            created_at=now,
                        )
                    )
    finally:
        await engine.dispose()
    await upgrade(db)
    assert await _counts(db, GUILD) == {ALICE: (0, 0), BOB: (1, 1), CAROL: (5, 5)}
    assert await _counts(db, OTHER_GUILD) == {ALICE: (2, 2)}
    # The triggers work on top of the backfilled counts.
    await db.write_one(posts.add_post(GUILD, BOB, "new"))
    (newest,) = await db.read_one(posts.get_user_posts(OTHER_GUILD, ALICE, limit=1))
    await db.write_one(posts.delete_post(OTHER_GUILD, ALICE, newest.id))
    assert await _counts(db, GUILD) == {ALICE: (0, 0), BOB: (2, 2), CAROL: (5, 5)}
    assert await _counts(db, OTHER_GUILD) == {ALICE: (1, 1)}


async def test_downgrading_0002_keeps_every_post(
    db: Database,
) -> None:
    await db.write_one(users.add_user(GUILD, ALICE, "Ann", 30))
    for i in range(3):
        await db.write_one(posts.add_post(GUILD, ALICE, f"p{i}"))
    await db.close()
    await downgrade(db, "0001")
    engine = migration_engine(db.url)
    try:
        async with engine.connect() as connection:
            kept = (await connection.execute(text("SELECT count(*) FROM posts"))).scalar_one()
    finally:
        await engine.dispose()
    assert kept == 3


# --- units of work ----------------------------------------------------------------------------


async def test_a_read_unit_sees_one_snapshot(db: Database) -> None:
    await db.write_one(users.add_user(GUILD, ALICE, "Ann", 30))
    first = await db.write_one(posts.add_post(GUILD, ALICE, "first"))
    async with db.read() as unit:
        before = await unit.run(posts.get_posts_page(GUILD, ALICE))
        # Committed from elsewhere while the unit is open ...
        second = await db.write_one(posts.add_post(GUILD, ALICE, "second"))
        await db.write_one(users.update_user_name(GUILD, ALICE, "Annie"))
        await db.write_one(users.add_user(GUILD, BOB, "Bob", 30))
        assert await db.read_one(posts.count_posts(GUILD, ALICE)) == 2  # ... and visible there
        # ... but not inside the unit.
        again = await unit.run(posts.get_posts_page(GUILD, ALICE))
        assert again.owner.to_dict() == before.owner.to_dict()
        assert (again.owner.name, again.owner.post_count) == ("Ann", 1)
        assert [p.id for p in again.posts] == [p.id for p in before.posts] == [first.id]
        assert await unit.run(posts.count_posts(GUILD, ALICE)) == 1
        assert await unit.run(users.get_user_or_none(GUILD, BOB)) is None
    after = await db.read_one(posts.get_posts_page(GUILD, ALICE))
    assert (after.owner.name, after.owner.post_count) == ("Annie", 2)
    assert [p.id for p in after.posts] == [second.id, first.id]
    async with db.read() as unit:
        assert await unit.run(users.get_user_or_none(GUILD, BOB)) is not None


async def test_a_read_unit_cannot_write(db: Database) -> None:
    with pytest.raises(DatabaseError):
        async with db.read() as unit:
            await unit.run(users.add_user(GUILD, ALICE, "Ann", 30))
    assert await db.read_one(users.get_user_or_none(GUILD, ALICE)) is None
    await db.write_one(users.add_user(GUILD, ALICE, "Ann", 30))  # the database still works


async def test_a_write_unit_sees_its_own_writes_and_others_only_after_commit(
    db: Database,
) -> None:
    async with db.write() as unit:
        await unit.run(users.add_user(GUILD, ALICE, "Ann", 30))
        await unit.run(posts.add_post(GUILD, ALICE, "draft"))
        assert (await unit.run(users.get_user(GUILD, ALICE))).post_count == 1
        assert await db.read_one(users.get_user_or_none(GUILD, ALICE)) is None
        assert await _post_total(db) == 0
    assert (await db.read_one(users.get_user(GUILD, ALICE))).post_count == 1
    assert await _post_total(db) == 1


async def test_a_write_unit_rolls_back_when_the_block_raises(db: Database) -> None:
    await db.write_one(users.add_user(GUILD, BOB, "Bob", 30))

    async def three_writes_then_raise() -> None:
        async with db.write() as unit:
            await unit.run(users.add_user(GUILD, ALICE, "Ann", 30))
            await unit.run(posts.add_post(GUILD, ALICE, "gone"))
            await unit.run(posts.add_post(GUILD, BOB, "gone too"))
            raise Boom

    with pytest.raises(Boom):
        await three_writes_then_raise()
    assert await db.read_one(users.get_user_or_none(GUILD, ALICE)) is None
    assert await _post_total(db) == 0
    assert await _counts(db, GUILD) == {BOB: (0, 0)}
    # The writer is free and in no transaction: a single write commits by itself.
    await db.write_one(users.add_user(GUILD, ALICE, "Ann", 30))
    await db.close()
    await db.connect()
    assert (await db.read_one(users.get_user(GUILD, ALICE))).name == "Ann"


async def test_a_write_unit_rolls_back_on_a_domain_error(db: Database) -> None:
    await db.write_one(users.add_user(GUILD, BOB, "Bob", 30))

    async def post_then_register_again() -> None:
        async with db.write() as unit:
            await unit.run(posts.add_post(GUILD, BOB, "gone"))
            await unit.run(users.add_user(GUILD, BOB, "Bob again", 30))

    with pytest.raises(AlreadyRegistered):
        await post_then_register_again()
    assert await _counts(db, GUILD) == {BOB: (0, 0)}


@pytest.mark.parametrize("violation", ["unique", "foreign_key"])
async def test_a_write_unit_rolls_back_on_a_constraint_violation(
    db: Database, violation: str
) -> None:
    bob = await db.write_one(users.add_user(GUILD, BOB, "Bob", 30))
    expected = UniqueViolation if violation == "unique" else ForeignKeyViolation

    async def two_writes_then_a_violation() -> None:
        async with db.write() as unit:
            await unit.run(users.add_user(GUILD, ALICE, "Ann", 30))
            await unit.run(posts.add_post(GUILD, BOB, "gone"))
            if violation == "unique":
                await unit.run(users.add_many_users(GUILD, [(CAROL, "Cy", 30), (BOB, "Bo", 30)]))
            else:
                await unit.run(_raw_post(bob.id + 1000))

    with pytest.raises(expected):
        await two_writes_then_a_violation()
    assert await db.read_one(users.get_user_or_none(GUILD, ALICE)) is None
    assert await db.read_one(users.get_user_or_none(GUILD, CAROL)) is None
    assert await _counts(db, GUILD) == {BOB: (0, 0)}
    assert await _post_total(db) == 0
    await db.write_one(posts.add_post(GUILD, BOB, "kept"))
    assert await _counts(db, GUILD) == {BOB: (1, 1)}


async def test_a_cancelled_write_unit_rolls_back_and_frees_the_writer(db: Database) -> None:
    inside = asyncio.Event()

    async def interrupted() -> None:
        async with db.write() as unit:
            await unit.run(users.add_user(GUILD, ALICE, "Ann", 30))
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(interrupted())
    await asyncio.wait_for(inside.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(db.write_one(users.add_user(GUILD, BOB, "Bob", 30)), 5)
    async with asyncio.timeout(5), db.write() as unit:
        await unit.run(users.add_user(GUILD, CAROL, "Cy", 30))
    assert await db.read_one(users.get_user_or_none(GUILD, ALICE)) is None
    assert [u.discord_id for u in await db.read_one(users.list_users(GUILD))] == [BOB, CAROL]


# --- driver errors ----------------------------------------------------------------------------


def _assert_cause(error: BaseException, backend: str, sqlite_code: str, pg: type[Any]) -> None:
    cause = error.__cause__
    if backend == "sqlite":
        assert isinstance(cause, sqlite3.Error)
        assert cause.sqlite_errorname == sqlite_code
    else:
        assert isinstance(cause, pg)


async def test_driver_errors_become_data_layer_errors_by_code(db: Database, backend: str) -> None:
    alice = await db.write_one(users.add_user(GUILD, ALICE, "Ann", 30))
    with pytest.raises(UniqueViolation) as unique:
        await db.write_one(users.add_many_users(GUILD, [(BOB, "Bob", 30), (ALICE, "Ann", 30)]))
    _assert_cause(unique.value, backend, "SQLITE_CONSTRAINT_UNIQUE", asyncpg.UniqueViolationError)
    post = await db.write_one(posts.add_post(GUILD, ALICE, "first"))
    duplicate_id = {"id": post.id, "user_id": alice.id, "guild_id": GUILD, "title": "x"}
    with pytest.raises(UniqueViolation) as primary:
        await db.write_one(Query(_RAW_POST_WITH_ID, {**duplicate_id, "now": utcnow()}, nothing))
    _assert_cause(
        primary.value, backend, "SQLITE_CONSTRAINT_PRIMARYKEY", asyncpg.UniqueViolationError
    )
    with pytest.raises(ForeignKeyViolation) as foreign:
        await db.write_one(_raw_post(alice.id + 1))
    _assert_cause(
        foreign.value, backend, "SQLITE_CONSTRAINT_FOREIGNKEY", asyncpg.ForeignKeyViolationError
    )
    # Any other refusal is a DatabaseError, and neither of those.
    with pytest.raises(DatabaseError) as other:
        await db.write_one(
            Query(_RAW_POST, {**duplicate_id, "title": None, "now": utcnow()}, nothing)
        )
    assert not isinstance(other.value, (UniqueViolation, ForeignKeyViolation, DatabaseUnavailable))
    _assert_cause(other.value, backend, "SQLITE_CONSTRAINT_NOTNULL", asyncpg.NotNullViolationError)
    assert await _counts(db, GUILD) == {ALICE: (1, 1)}


async def _refused(url: str) -> None:
    db = Database(url)
    try:
        with pytest.raises(DatabaseUnavailable):
            await db.read_one(users.get_user_or_none(GUILD, ALICE))
    finally:
        await db.close()


async def test_an_unreachable_database_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    await _refused(f"sqlite+aiosqlite:///{blocker / 'bulletin.db'}")
    await _refused("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")


def _sqlite_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}


async def test_a_file_that_is_no_database_is_unavailable_and_leaves_no_thread(
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is no SQLite file" * 100)
    before = _sqlite_threads()
    gc.disable()  # a collection could stop a leaked thread and hide the leak
    try:
        await _refused(f"sqlite+aiosqlite:///{garbage}")
        for _ in range(100):
            if not _sqlite_threads() - before:
                break
            await asyncio.sleep(0.01)
        assert _sqlite_threads() - before == set()
    finally:
        gc.enable()
        # A leaked connection would keep pytest from exiting: close it by hand.
        leaked = _sqlite_threads() - before
        for thing in gc.get_objects():
            if isinstance(thing, aiosqlite.Connection) and thing._thread in leaked:
                await thing.close()


# --- what is sent and compiled ----------------------------------------------------------------


async def test_each_single_statement_operation_sends_exactly_one_statement(
    db: Database, statements: StatementLog
) -> None:
    sent: dict[str, int] = {}

    async def one(label: str, run: Callable[[], Awaitable[object]]) -> Any:
        statements.clear()
        try:
            return await run()
        except (NotRegistered, AlreadyRegistered, PostNotFound):
            return None
        finally:
            sent[label] = statements.count

    await one("add_user", lambda: db.write_one(users.add_user(GUILD, ALICE, "Ann", 30)))
    await one("add_user again", lambda: db.write_one(users.add_user(GUILD, ALICE, "Ann", 30)))
    await one("register", lambda: profiles.register(db, GUILD, BOB, "Bob", 30))
    await one(
        "add_many_users",
        lambda: db.write_one(users.add_many_users(GUILD, [(CAROL, "C", 30), (4, "D", 30)])),
    )
    await one("get_user", lambda: db.read_one(users.get_user(GUILD, ALICE)))
    await one("get_user missing", lambda: db.read_one(users.get_user(GUILD, 5)))
    await one("get_user_or_none", lambda: db.read_one(users.get_user_or_none(GUILD, ALICE)))
    await one("profile", lambda: profiles.profile(db, GUILD, ALICE))
    await one("list_users", lambda: db.read_one(users.list_users(GUILD)))
    await one("find_user_by_name", lambda: db.read_one(users.find_user_by_name(GUILD, "Ann")))
    await one("update_user_name", lambda: db.write_one(users.update_user_name(GUILD, ALICE, "A")))
    await one("rename missing", lambda: profiles.rename(db, GUILD, 5, "X"))
    post = await one("add_post", lambda: db.write_one(posts.add_post(GUILD, ALICE, "one")))
    await one("publish", lambda: post_service.publish(db, GUILD, ALICE, "two", "body"))
    await one("publish missing", lambda: post_service.publish(db, GUILD, 5, "two", None))
    await one("get_posts_page", lambda: db.read_one(posts.get_posts_page(GUILD, ALICE)))
    await one(
        "get_posts_page after", lambda: db.read_one(posts.get_posts_page(GUILD, ALICE, after_id=0))
    )
    await one("get_user_posts", lambda: db.read_one(posts.get_user_posts(GUILD, ALICE)))
    await one("page_of_posts", lambda: post_service.page_of_posts(db, GUILD, ALICE))
    await one("count_posts", lambda: db.read_one(posts.count_posts(GUILD, ALICE)))
    await one("search_user_posts", lambda: db.read_one(posts.search_user_posts(GUILD, ALICE, "o")))
    await one("suggestions", lambda: post_service.suggestions(db, GUILD, ALICE, "#1"))
    await one("delete_post", lambda: db.write_one(posts.delete_post(GUILD, ALICE, post.id)))
    await one("delete missing post", lambda: post_service.delete(db, GUILD, ALICE, post.id))
    await one("delete_user", lambda: db.write_one(users.delete_user(GUILD, ALICE)))
    await one("leave missing", lambda: profiles.leave(db, GUILD, ALICE))
    await one("record_sync", lambda: db.write_one(command_syncs.record_sync(1, 0, "f" * 64)))
    await one(
        "get_synced_fingerprint", lambda: db.read_one(command_syncs.get_synced_fingerprint(1, 0))
    )
    # Refusals of the guarded writes then look up a block, to say so rather than "no profile";
    # /leave deletes the posts (keeping where they were announced) and then the profile.
    two = {"rename missing": 2, "publish missing": 2, "leave missing": 2}
    assert sent == dict.fromkeys(sent, 1) | two
    assert len(sent) == 28


def _module_statements() -> list[Statement]:
    found = [
        value
        for module in (users, posts, command_syncs)
        for value in vars(module).values()
        if isinstance(value, Statement)
    ]
    assert len(found) >= 15
    return found


async def test_statements_compile_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    original = Statement._compile

    def counting(self: Statement, dialect: Dialect) -> Prepared:
        compiled.append(self.name)
        return original(self, dialect)

    monkeypatch.setattr(Statement, "_compile", counting)
    module_statements = _module_statements()
    for statement in module_statements:
        monkeypatch.setattr(statement, "_prepared", {})
    for round_ in range(3):
        member = ALICE + round_
        await db.write_one(users.add_user(GUILD, member, "Ann", 30))
        await db.write_one(users.add_many_users(OTHER_GUILD + round_, [(1, "A", 30)]))
        await db.write_one(users.update_user_name(GUILD, member, "Annie"))
        await db.read_one(users.get_user(GUILD, member))
        await db.read_one(users.list_users(GUILD))
        await db.read_one(users.find_user_by_name(GUILD, "Annie"))
        post = await db.write_one(posts.add_post(GUILD, member, "x"))
        await db.read_one(posts.get_posts_page(GUILD, member))
        await db.read_one(posts.get_posts_page(GUILD, member, after_id=0))
        await db.read_one(posts.search_user_posts(GUILD, member, "x"))
        await db.read_one(posts.count_posts(GUILD, member))
        await db.write_one(posts.delete_post(GUILD, member, post.id))
        await db.write_one(users.delete_user(GUILD, member))
        await db.write_one(command_syncs.record_sync(1, round_, "f" * 64))
        await db.read_one(command_syncs.get_synced_fingerprint(1, round_))
    counts = Counter(compiled)
    assert len(counts) >= 15, counts
    assert counts == dict.fromkeys(counts, 1), counts
    used = [statement for statement in module_statements if statement._prepared]
    assert {statement.name for statement in used} == set(counts)
    for statement in used:
        assert list(statement._prepared) == [db.dialect.name], statement


async def test_a_statement_compiles_once_per_dialect(
    sqlite_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []
    original = Statement._compile

    def counting(self: Statement, dialect: Dialect) -> Prepared:
        compiled.append(dialect.name)
        return original(self, dialect)

    monkeypatch.setattr(Statement, "_compile", counting)
    moment = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
    echo = Statement(
        select(
            bindparam("moment", type_=UTCDateTime()).label("moment"),
            (bindparam("number", type_=User.guild_id.type) + literal(1)).label("next"),
        ),
        name="test_echo",
    )
    for url in (sqlite_url, postgres_url):
        async with Database(url) as db:
            for _ in range(3):
                found = await db.read_one(Query(echo, {"moment": moment, "number": 2**62}, rows))
                assert [tuple(row) for row in found] == [(moment, 2**62 + 1)]
    assert compiled == ["sqlite", "postgresql"]
    assert sorted(echo._prepared) == ["postgresql", "sqlite"]


def test_aiosqlite_still_offers_the_thread_primitive_the_database_uses() -> None:
    """bot.db.database runs its deadline-checked writes through aiosqlite's ``_execute``."""
    import inspect

    import aiosqlite

    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    assert "_conn" in dir(aiosqlite.Connection)
