"""Queries on members' profiles, each scoped to one guild.

The names and result shapes follow the original sketch (``add_user``, ``add_many_users``,
``list_users``, ``find_user_by_name``, ``get_user``, ``get_user_or_none``,
``update_user_name``, ``delete_user``). Each function checks its input, then returns a
``Query`` without touching the database; the caller runs it in a unit of work, alone
(``db.write_one(add_user(…))``) or with others (``unit.run(…)``). A member is addressed by
``(guild_id, discord_id)``, so no guild can read or change another guild's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    String,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.base import Executable

from bot.db.blocks import not_blocked
from bot.db.models import NAME_MAX, User
from bot.db.statements import (
    ModelShape,
    Query,
    Row,
    Statement,
    scalar_one_or_none,
)
from bot.db.types import utcnow
from bot.db.validation import clean_age, clean_name
from bot.errors import AlreadyRegistered, NotRegistered

LIST_MAX = 1000

_MEMBER = (User.guild_id == bindparam("guild_id")) & (User.discord_id == bindparam("discord_id"))


def _register(dialect: str) -> Executable:
    insert_for = sqlite_insert if dialect == "sqlite" else pg_insert
    source = select(
        bindparam("guild_id", type_=User.guild_id.type),
        bindparam("discord_id", type_=User.discord_id.type),
        bindparam("name", type_=User.name.type),
        bindparam("age", type_=User.age.type),
        literal(0, User.post_count.type),
        bindparam("now", type_=User.created_at.type),
        bindparam("now", type_=User.updated_at.type),
    ).where(not_blocked())  # a block is decided here, in the same statement
    return (
        insert_for(User)
        .from_select(
            ["guild_id", "discord_id", "name", "age", "post_count", "created_at", "updated_at"],
            source,
        )
        # The unique constraint decides: a second registration inserts nothing.
        .on_conflict_do_nothing(index_elements=[User.guild_id, User.discord_id])
        .returning(User)
    )


_ADD = Statement(_register, name="add_user")
_ADD_SHAPE = ModelShape(User, _ADD)
_ADD_MANY = Statement(
    insert(User).values(
        guild_id=bindparam("guild_id"),
        discord_id=bindparam("discord_id"),
        name=bindparam("name"),
        age=bindparam("age"),
        post_count=0,
        created_at=bindparam("now", type_=User.created_at.type),
        updated_at=bindparam("now", type_=User.updated_at.type),
    ),
    name="add_many_users",
)
_LIST = Statement(
    select(User)
    .where(User.guild_id == bindparam("guild_id"))
    .order_by(User.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset")),
    name="list_users",
)
_LIST_SHAPE = ModelShape(User, _LIST)
# LIMIT 1: without it .first() would still make the driver fetch every matching row.
_BY_NAME = Statement(
    select(User)
    .where(User.guild_id == bindparam("guild_id"), User.name == bindparam("name"))
    .order_by(User.id)
    .limit(1),
    name="find_user_by_name",
)
_BY_NAME_SHAPE = ModelShape(User, _BY_NAME)
_GET = Statement(select(User).where(_MEMBER), name="get_user")
_GET_SHAPE = ModelShape(User, _GET)
_RENAME = Statement(
    update(User)
    .where(_MEMBER, not_blocked())
    .values(name=bindparam("name"), updated_at=bindparam("now", type_=User.updated_at.type))
    .returning(User),
    name="update_user_name",
)
_RENAME_SHAPE = ModelShape(User, _RENAME)
# The posts go by ON DELETE CASCADE; post_count says how many there were.
_DELETE = Statement(delete(User).where(_MEMBER).returning(User.post_count), name="delete_user")


def _member(guild_id: int, discord_id: int) -> dict[str, Any]:
    return {"guild_id": guild_id, "discord_id": discord_id}


def _registered(found: list[Row]) -> User:
    user = _ADD_SHAPE.one_or_none(found)
    if user is None:
        raise AlreadyRegistered
    return user


def add_user(guild_id: int, discord_id: int, name: str, age: int) -> Query[User]:
    """Create a member's profile; a second one for the same member raises AlreadyRegistered."""
    params = {**_member(guild_id, discord_id), "name": clean_name(name), "age": clean_age(age)}
    return Query(_ADD, {**params, "now": utcnow()}, _registered)


def add_many_users(guild_id: int, users: Iterable[tuple[int, str, int]]) -> Query[int]:
    """Create many profiles at once from ``(discord_id, name, age)`` (one executemany).

    Run in a write unit, the batch is all or nothing: a duplicate rolls every row back and
    the unit raises ``UniqueViolation``.
    """
    now = utcnow()
    batch = [
        {
            "guild_id": guild_id,
            "discord_id": discord_id,
            "name": clean_name(name),
            "age": clean_age(age),
            "now": now,
        }
        for discord_id, name, age in users
    ]
    count = len(batch)
    return Query(_ADD_MANY, {}, lambda _found: count, many=batch)


def list_users(guild_id: int, *, limit: int = 100, offset: int = 0) -> Query[list[User]]:
    """A guild's profiles in registration order (``.scalars().all()``)."""
    limit = max(1, min(limit, LIST_MAX))
    params = {"guild_id": guild_id, "limit": limit, "offset": max(0, offset)}
    return Query(_LIST, params, _LIST_SHAPE.all)


def find_user_by_name(guild_id: int, name: str) -> Query[User | None]:
    """The first profile in a guild with exactly this name (``.scalars().first()``), or None."""
    return Query(_BY_NAME, {"guild_id": guild_id, "name": name.strip()}, _BY_NAME_SHAPE.first)


def _existing(found: list[Row]) -> User:
    user = _GET_SHAPE.one_or_none(found)
    if user is None:
        raise NotRegistered
    return user


def get_user(guild_id: int, discord_id: int) -> Query[User]:
    """A member's profile, post count included (``.scalar_one()``); raises NotRegistered."""
    return Query(_GET, _member(guild_id, discord_id), _existing)


def get_user_or_none(guild_id: int, discord_id: int) -> Query[User | None]:
    """A member's profile, or None (``.scalar_one_or_none()``)."""
    return Query(_GET, _member(guild_id, discord_id), _GET_SHAPE.one_or_none)


def _renamed(found: list[Row]) -> User:
    user = _RENAME_SHAPE.one_or_none(found)
    if user is None:
        raise NotRegistered
    return user


def update_user_name(guild_id: int, discord_id: int, new_name: str) -> Query[User]:
    """Rename a member's profile in one ``UPDATE … RETURNING``; raises NotRegistered."""
    params = {**_member(guild_id, discord_id), "name": clean_name(new_name), "now": utcnow()}
    return Query(_RENAME, params, _renamed)


def _deleted(found: list[Row]) -> int:
    post_count = scalar_one_or_none(found)
    if post_count is None:
        raise NotRegistered
    return int(post_count)


def delete_user(guild_id: int, discord_id: int) -> Query[int]:
    """Delete a member's profile and all their posts; the result is how many posts went."""
    return Query(_DELETE, _member(guild_id, discord_id), _deleted)


MEMBERS_PAGE_MAX = 100


def _members(dialect: str) -> Executable:
    # SQLite's own lower() folds ASCII only (see bot.db.posts' search for the same choice).
    name = (
        func.unicode_lower(User.name, type_=String)
        if dialect == "sqlite"
        else func.lower(User.name)
    )
    return (
        select(User)
        .where(
            User.guild_id == bindparam("guild_id"),
            name.like(bindparam("pattern"), escape="\\"),
            tuple_(User.name, User.id)
            > tuple_(
                bindparam("after_name", type_=User.name.type),
                bindparam("after_id", type_=User.id.type),
            ),
        )
        .order_by(User.name, User.id)
        .limit(bindparam("limit"))
    )


_MEMBERS = Statement(_members, name="list_members")
_MEMBERS_SHAPE = ModelShape(User, _MEMBERS)


def list_members(
    guild_id: int,
    *,
    name_part: str = "",
    after: tuple[str, int] | None = None,
    limit: int = 10,
) -> Query[list[User]]:
    """Registered members of a guild by name, one keyset page after ``(name, id)``.

    ``name_part`` filters on a case-insensitive part of the name (the seed's select-where-
    name); the ``(guild_id, name, id)`` index keeps the walk inside one guild, in order.
    """
    part = name_part.strip().lower()[:NAME_MAX]
    escaped = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    after_name, after_id = after if after is not None else ("", 0)
    params = {
        "guild_id": guild_id,
        "pattern": f"%{escaped}%",
        "after_name": after_name,
        "after_id": after_id,
        "limit": max(1, min(limit, MEMBERS_PAGE_MAX)),
    }
    return Query(_MEMBERS, params, _MEMBERS_SHAPE.all)


_BY_ROW = Statement(
    select(User).where(User.guild_id == bindparam("guild_id"), User.id == bindparam("row_id")),
    name="get_user_by_row",
)
_BY_ROW_SHAPE = ModelShape(User, _BY_ROW)


def get_user_by_row(guild_id: int, row_id: int) -> Query[User | None]:
    """A profile of this guild by its row id (a page's keyset cursor), or None."""
    return Query(_BY_ROW, {"guild_id": guild_id, "row_id": row_id}, _BY_ROW_SHAPE.one_or_none)
