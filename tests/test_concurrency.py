"""Concurrent writers and the bulk path, against the real backends.

The unique constraint, not a read-then-insert, decides who registers; SQLite's writers queue
instead of failing with "database is locked"; the bulk insert is one executemany.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.db import Database, User
from bot.db.users import add_many_users, add_user, list_users
from bot.errors import AlreadyRegistered
from tests.conftest import StatementLog

GUILD = 111_000_000_000_000_001


async def test_fifty_concurrent_registrations_of_one_member_make_one_profile(
    db: Database,
) -> None:
    results = await asyncio.gather(
        *(add_user(db, GUILD, 42, f"Name {i}", 30) for i in range(50)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, User)]
    refused = [r for r in results if isinstance(r, AlreadyRegistered)]
    other = [r for r in results if not isinstance(r, (User, AlreadyRegistered))]
    assert other == []  # in particular, no "database is locked"
    assert (len(created), len(refused)) == (1, 49)
    assert [u.id for u in await list_users(db, GUILD)] == [created[0].id]


async def test_fifty_concurrent_writers_for_different_members_all_succeed(db: Database) -> None:
    results = await asyncio.gather(
        *(add_user(db, GUILD, 1000 + i, f"Member {i}", 20 + i) for i in range(50)),
        return_exceptions=True,
    )
    assert all(isinstance(r, User) for r in results), [
        r for r in results if not isinstance(r, User)
    ]
    async with db.read() as session:
        assert (await session.execute(select(func.count(User.id)))).scalar_one() == 50


async def test_readers_run_while_writers_write(db: Database) -> None:
    await add_user(db, GUILD, 1, "Seed", 30)

    async def reader() -> int:
        return len(await list_users(db, GUILD, limit=100))

    outcomes = await asyncio.gather(
        *(add_user(db, GUILD, 2000 + i, f"W{i}", 30) for i in range(20)),
        *(reader() for _ in range(20)),
        return_exceptions=True,
    )
    assert not [o for o in outcomes if isinstance(o, BaseException)]


async def test_add_many_users_of_100k_rows_is_one_executemany(
    db: Database, statements: StatementLog
) -> None:
    rows = [(10_000_000 + i, f"user{i}", 13 + i % 100) for i in range(100_000)]
    assert await add_many_users(db, GUILD, rows) == 100_000
    inserts = [
        (sql, many)
        for sql, many in statements.statements
        if sql.lstrip().upper().startswith("INSERT")
    ]
    assert len(inserts) == 1, f"expected one executemany, got {len(inserts)} INSERT statements"
    assert inserts[0][1] is True
    async with db.read() as session:
        assert (await session.execute(select(func.count(User.id)))).scalar_one() == 100_000
