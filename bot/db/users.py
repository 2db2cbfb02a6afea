"""Operations on members' profiles, each scoped to one guild and each its own unit of work.

The names and result shapes follow the original sketch (``add_user``, ``add_many_users``,
``list_users``, ``find_user_by_name``, ``get_user``, ``get_user_or_none``,
``update_user_name``, ``delete_user``); a member is addressed by ``(guild_id, discord_id)``,
so no guild can read or change another guild's rows. Returned objects are detached and safe
to use after their session closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.db.database import Database
from bot.db.models import Post, User
from bot.db.types import utcnow
from bot.db.validation import clean_age, clean_name
from bot.errors import AlreadyRegistered, NotRegistered

_USER_KEY_CONSTRAINT = "uq_users_guild_id_discord_id"


def _is_duplicate_member(error: IntegrityError) -> bool:
    """Whether an IntegrityError is the (guild_id, discord_id) unique constraint saying no."""
    text = str(error.orig)
    return (
        _USER_KEY_CONSTRAINT in text  # PostgreSQL names the constraint
        or "UNIQUE constraint failed: users.guild_id, users.discord_id" in text  # SQLite
    )


def _member(guild_id: int, discord_id: int) -> Any:
    return (User.guild_id == guild_id) & (User.discord_id == discord_id)


async def add_user(db: Database, guild_id: int, discord_id: int, name: str, age: int) -> User:
    """Create a member's profile; a second one for the same member raises AlreadyRegistered."""
    user = User(guild_id=guild_id, discord_id=discord_id, name=clean_name(name), age=clean_age(age))
    try:
        async with db.write() as session:
            session.add(user)
    except IntegrityError as error:
        # The unique constraint decides, so concurrent registrations cannot both succeed.
        if _is_duplicate_member(error):
            raise AlreadyRegistered from None
        raise
    return user


async def add_many_users(db: Database, guild_id: int, users: Iterable[tuple[int, str, int]]) -> int:
    """Create many profiles at once from ``(discord_id, name, age)``; returns how many.

    One executemany (SQLAlchemy's insertmanyvalues path) instead of one INSERT per object. The
    whole batch is one transaction: a duplicate rolls every row back and raises AlreadyRegistered.
    """
    now = utcnow()
    rows = [
        {
            "guild_id": guild_id,
            "discord_id": discord_id,
            "name": clean_name(name),
            "age": clean_age(age),
            "created_at": now,
            "updated_at": now,
        }
        for discord_id, name, age in users
    ]
    if not rows:
        return 0
    try:
        async with db.write() as session:
            await session.execute(insert(User), rows)
    except IntegrityError as error:
        if _is_duplicate_member(error):
            raise AlreadyRegistered from None
        raise
    return len(rows)


async def list_users(
    db: Database, guild_id: int, *, limit: int = 100, offset: int = 0
) -> Sequence[User]:
    """A guild's profiles in registration order (``.scalars().all()``)."""
    async with db.read() as session:
        result = await session.execute(
            select(User)
            .where(User.guild_id == guild_id)
            .order_by(User.id)
            .limit(limit)
            .offset(offset)
        )
        return result.scalars().all()


async def find_user_by_name(db: Database, guild_id: int, name: str) -> User | None:
    """The first profile in a guild with exactly this name (``.scalars().first()``), or None."""
    async with db.read() as session:
        # Without LIMIT, .first() would still make the driver buffer every matching row.
        result = await session.execute(
            select(User)
            .where(User.guild_id == guild_id, User.name == name.strip())
            .order_by(User.id)
            .limit(1)
        )
        return result.scalars().first()


async def get_user(db: Database, guild_id: int, discord_id: int) -> User:
    """A member's profile (``.scalar_one()``); raises NotRegistered when there is none."""
    user = await get_user_or_none(db, guild_id, discord_id)
    if user is None:
        raise NotRegistered
    return user


async def get_user_or_none(db: Database, guild_id: int, discord_id: int) -> User | None:
    """A member's profile, or None (``.scalar_one_or_none()``)."""
    async with db.read() as session:
        result = await session.execute(select(User).where(_member(guild_id, discord_id)))
        return result.scalar_one_or_none()


async def get_user_with_post_count(
    db: Database, guild_id: int, discord_id: int
) -> tuple[User, int]:
    """A member's profile and how many posts they have, in one statement."""
    post_count = (
        select(func.count(Post.id)).where(Post.user_id == User.id).correlate(User).scalar_subquery()
    )
    async with db.read() as session:
        result = await session.execute(
            select(User, post_count).where(_member(guild_id, discord_id))
        )
        row = result.one_or_none()
    if row is None:
        raise NotRegistered
    return row[0], int(row[1])


async def update_user_name(db: Database, guild_id: int, discord_id: int, new_name: str) -> User:
    """Rename a member's profile in one ``UPDATE … RETURNING``; raises NotRegistered."""
    name = clean_name(new_name)
    async with db.write() as session:
        result = await session.execute(
            update(User)
            .where(_member(guild_id, discord_id))
            .values(name=name, updated_at=utcnow())
            .returning(User),
            execution_options={"synchronize_session": False},
        )
        user = result.scalar_one_or_none()
    if user is None:
        raise NotRegistered
    return user


async def delete_user(db: Database, guild_id: int, discord_id: int) -> int:
    """Delete a member's profile and all their posts; returns how many posts went.

    The posts are deleted and counted first, then the profile, in one transaction, so the
    count is exactly what went (the sketch's ORM delete failed on a member with posts).
    """
    owner = select(User.id).where(_member(guild_id, discord_id)).scalar_subquery()
    async with db.write() as session:
        posts = await session.execute(
            delete(Post).where(Post.guild_id == guild_id, Post.user_id == owner),
            execution_options={"synchronize_session": False},
        )
        deleted_posts = cast("CursorResult[Any]", posts).rowcount
        gone = await session.execute(
            delete(User).where(_member(guild_id, discord_id)).returning(User.id),
            execution_options={"synchronize_session": False},
        )
        if gone.scalar_one_or_none() is None:
            raise NotRegistered
    return deleted_posts


async def list_users_with_post_counts(
    db: Database, guild_id: int, *, limit: int = 25
) -> Sequence[Row[User, int]]:
    """A guild's members with their post counts, most posts first (``result.all()`` rows)."""
    post_count = func.count(Post.id).label("post_count")
    async with db.read() as session:
        result = await session.execute(
            select(User, post_count)
            .outerjoin(Post, Post.user_id == User.id)
            .where(User.guild_id == guild_id)
            .group_by(User.id)
            .order_by(post_count.desc(), User.id)
            .limit(limit)
        )
        return result.all()
