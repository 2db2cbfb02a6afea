"""Queries on blocks: members a moderator stopped from using /register, /rename and /post.

``not_blocked()`` is the condition the guarded statements of ``bot.db.users`` and
``bot.db.posts`` put in their own WHERE clause, so a block that committed first always wins.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, bindparam, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.base import Executable

from bot.db.models import Block
from bot.db.statements import ModelShape, Query, Statement
from bot.db.types import utcnow


def not_blocked() -> ColumnElement[bool]:
    """No block for ``:guild_id`` / ``:discord_id`` (the bind names the member queries use)."""
    return ~exists().where(
        Block.guild_id == bindparam("guild_id"), Block.member_id == bindparam("discord_id")
    )


def _add(dialect: str) -> Executable:
    insert_for = sqlite_insert if dialect == "sqlite" else pg_insert
    return (
        insert_for(Block)
        .values(
            guild_id=bindparam("guild_id"),
            member_id=bindparam("member_id"),
            moderator_id=bindparam("moderator_id"),
            created_at=bindparam("now", type_=Block.created_at.type),
        )
        .on_conflict_do_nothing(index_elements=[Block.guild_id, Block.member_id])
        .returning(Block)
    )


_ADD = Statement(_add, name="add_block")
_ADD_SHAPE = ModelShape(Block, _ADD)
_REMOVE = Statement(
    delete(Block)
    .where(Block.guild_id == bindparam("guild_id"), Block.member_id == bindparam("member_id"))
    .returning(Block),
    name="remove_block",
)
_REMOVE_SHAPE = ModelShape(Block, _REMOVE)
_GET = Statement(
    select(Block).where(
        Block.guild_id == bindparam("guild_id"), Block.member_id == bindparam("member_id")
    ),
    name="get_block",
)
_GET_SHAPE = ModelShape(Block, _GET)


def add_block(guild_id: int, member_id: int, moderator_id: int | None) -> Query[Block | None]:
    """Block a member; None when they were blocked already."""
    params = {
        "guild_id": guild_id,
        "member_id": member_id,
        "moderator_id": moderator_id,
        "now": utcnow(),
    }
    return Query(_ADD, params, _ADD_SHAPE.one_or_none)


def remove_block(guild_id: int, member_id: int) -> Query[Block | None]:
    """Lift a member's block; None when there was none."""
    return Query(_REMOVE, {"guild_id": guild_id, "member_id": member_id}, _REMOVE_SHAPE.one_or_none)


def get_block(guild_id: int, member_id: int) -> Query[Block | None]:
    """A member's block in a guild, or None."""
    return Query(_GET, {"guild_id": guild_id, "member_id": member_id}, _GET_SHAPE.one_or_none)
