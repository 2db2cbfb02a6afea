"""Operations on posts, each scoped to one guild and to the member who owns the post.

A member is addressed by ``(guild_id, discord_id)``; every statement joins or filters on both,
so a post id from another guild or another member is simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, cast, delete, func, insert, literal, or_, select

from bot.db.database import Database
from bot.db.models import Post, User
from bot.db.types import utcnow
from bot.db.validation import clean_body, clean_title
from bot.errors import InvalidInput, NotRegistered, PostNotFound

PAGE_MAX = 100
SEARCH_QUERY_MAX = 100


def _owner_id(guild_id: int, discord_id: int) -> Any:
    """The profile id of a member, as a scalar subquery."""
    return (
        select(User.id)
        .where(User.guild_id == guild_id, User.discord_id == discord_id)
        .scalar_subquery()
    )


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput("limit", f"A page holds between 1 and {PAGE_MAX} posts.")
    return limit


async def add_post(
    db: Database, guild_id: int, discord_id: int, title: str, body: str | None = None
) -> Post:
    """Publish a post for a member; raises NotRegistered when they have no profile.

    One ``INSERT … SELECT … RETURNING``: the member's profile id is looked up by the insert
    itself, so a profile deleted at the same moment cannot leave an orphan post.
    """
    clean = {"title": clean_title(title), "body": clean_body(body)}
    source = select(
        User.id,
        literal(guild_id, Post.guild_id.type),
        literal(clean["title"], Post.title.type),
        literal(clean["body"], Post.body.type),
        literal(utcnow(), Post.created_at.type),
    ).where(User.guild_id == guild_id, User.discord_id == discord_id)
    async with db.write() as session:
        result = await session.execute(
            insert(Post)
            .from_select(["user_id", "guild_id", "title", "body", "created_at"], source)
            .returning(Post)
        )
        post = result.scalar_one_or_none()
    if post is None:
        raise NotRegistered
    return post


async def get_user_posts(
    db: Database,
    guild_id: int,
    discord_id: int,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 5,
) -> Sequence[Post]:
    """A member's posts, newest first, one keyset page at a time.

    ``before_id`` gives the page of older posts below that id, ``after_id`` the page of newer
    posts just above it (still returned newest first); neither gives the newest page. Keyset
    paging stays fast at any depth and does not shift when posts are added meanwhile.
    """
    if before_id is not None and after_id is not None:
        raise ValueError("give before_id or after_id, not both")
    query = select(Post).where(
        Post.guild_id == guild_id, Post.user_id == _owner_id(guild_id, discord_id)
    )
    if after_id is not None:
        query = query.where(Post.id > after_id).order_by(Post.id.asc())
    else:
        if before_id is not None:
            query = query.where(Post.id < before_id)
        query = query.order_by(Post.id.desc())
    async with db.read() as session:
        result = await session.execute(query.limit(_check_limit(limit)))
        posts = result.scalars().all()
    return list(reversed(posts)) if after_id is not None else posts


async def delete_post(db: Database, guild_id: int, discord_id: int, post_id: int) -> Post:
    """Delete one of a member's own posts; returns it. Anyone else's post is not found."""
    async with db.write() as session:
        result = await session.execute(
            delete(Post)
            .where(
                Post.id == post_id,
                Post.guild_id == guild_id,
                Post.user_id == _owner_id(guild_id, discord_id),
            )
            .returning(Post),
            execution_options={"synchronize_session": False},
        )
        post = result.scalar_one_or_none()
    if post is None:
        raise PostNotFound(post_id)
    return post


async def count_posts(db: Database, guild_id: int, discord_id: int) -> int:
    """How many posts a member has in a guild (0 without a profile)."""
    async with db.read() as session:
        result = await session.execute(
            select(func.count(Post.id)).where(
                Post.guild_id == guild_id, Post.user_id == _owner_id(guild_id, discord_id)
            )
        )
        return int(result.scalar_one())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_user_posts(
    db: Database, guild_id: int, discord_id: int, query: str, *, limit: int = 25
) -> Sequence[tuple[int, str]]:
    """``(id, title)`` of a member's posts matching what they typed, newest first.

    Digits match the start of a post id (``4`` finds #4 and #42); any text matches inside the
    title, case-insensitively. An empty query gives the newest posts. Made for autocomplete.
    """
    text = query.strip()[:SEARCH_QUERY_MAX]
    statement = select(Post.id, Post.title).where(
        Post.guild_id == guild_id, Post.user_id == _owner_id(guild_id, discord_id)
    )
    if text:
        pattern = _like_escape(text.lstrip("#"))
        conditions = [Post.title.ilike(f"%{pattern}%", escape="\\")]
        if text.lstrip("#").isdigit():
            conditions.append(cast(Post.id, String).like(f"{pattern}%", escape="\\"))
        statement = statement.where(or_(*conditions))
    async with db.read() as session:
        result = await session.execute(
            statement.order_by(Post.id.desc()).limit(_check_limit(limit))
        )
        return [(row.id, row.title) for row in result]
