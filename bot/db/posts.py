"""Queries on posts, each scoped to one guild and to the member who owns the post.

A member is addressed by ``(guild_id, discord_id)``; every statement joins or filters on
both, so a post id from another guild or another member is simply not found. Like
``bot.db.users``, each function checks its input and returns a ``Query`` to run in a unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement

from bot.db.blocks import not_blocked
from bot.db.models import Post, User
from bot.db.statements import ModelShape, Query, Row, Statement, rows
from bot.db.types import utcnow
from bot.db.validation import clean_body, clean_title
from bot.errors import InvalidInput, NotRegistered, PostNotFound

PAGE_MAX = 100
SEARCH_QUERY_MAX = 100
SEARCH_WORDS = 5
ID_MAX = 2**63 - 1

_OWNER = (
    select(User.id)
    .where(User.guild_id == bindparam("guild_id"), User.discord_id == bindparam("discord_id"))
    .scalar_subquery()
)
_OWNED = and_(Post.guild_id == bindparam("guild_id"), Post.user_id == _OWNER)

# INSERT … SELECT: the member's profile id is looked up by the insert itself, so no post
# can be made for a profile that is not there.
_ADD = Statement(
    insert(Post)
    .from_select(
        ["user_id", "guild_id", "title", "body", "created_at"],
        select(
            User.id,
            User.guild_id,
            bindparam("title", type_=Post.title.type),
            bindparam("body", type_=Post.body.type),
            bindparam("now", type_=Post.created_at.type),
        ).where(
            User.guild_id == bindparam("guild_id"),
            User.discord_id == bindparam("discord_id"),
            not_blocked(),  # a block is decided here, in the same statement
        ),
    )
    .returning(Post),
    name="add_post",
)
_ADD_SHAPE = ModelShape(Post, _ADD)


def _page(newer: bool) -> Statement:
    """The owner's profile and one keyset page of their posts, in one statement.

    The page is a derived table ordered by the ``(user_id, id)`` index and cut by LIMIT,
    so its cost does not grow with the member's number of posts; the LEFT JOIN keeps the
    profile row when the page is empty.
    """
    cursor = Post.id > bindparam("cursor") if newer else Post.id < bindparam("cursor")
    order = Post.id.asc() if newer else Post.id.desc()
    page = select(Post).where(_OWNED, cursor).order_by(order).limit(bindparam("limit")).subquery()
    statement = (
        select(User, page)
        .outerjoin(page, true())
        .where(User.guild_id == bindparam("guild_id"), User.discord_id == bindparam("discord_id"))
        .order_by(page.c.id.asc() if newer else page.c.id.desc())
    )
    return Statement(statement, name="posts_page_newer" if newer else "posts_page_older")


_OLDER = _page(newer=False)
_NEWER = _page(newer=True)
_PAGE_USER = ModelShape(User, _OLDER)
_PAGE_POST = ModelShape(Post, _OLDER, offset=len(User.__table__.columns))
_DELETE = Statement(
    delete(Post).where(Post.id == bindparam("post_id"), _OWNED).returning(Post),
    name="delete_post",
)
_DELETE_SHAPE = ModelShape(Post, _DELETE)


def _search(dialect: str) -> Executable:
    # SQLite's own lower() and LIKE fold ASCII only; its connections get Python's lower()
    # as unicode_lower() (bot.db.database), PostgreSQL's ILIKE folds every script.
    if dialect == "sqlite":
        title: ColumnElement[str] = func.unicode_lower(Post.title, type_=String)

        def matches(name: str) -> ColumnElement[bool]:
            return title.like(bindparam(name), escape="\\")
    else:

        def matches(name: str) -> ColumnElement[bool]:
            return Post.title.ilike(bindparam(name), escape="\\")

    # A typed word matches the start of a word of the title: at its beginning or after a space.
    words = [or_(matches(f"word{i}"), matches(f"inner_word{i}")) for i in range(SEARCH_WORDS)]
    return (
        select(Post.id, Post.title)
        .where(
            _OWNED,
            or_(and_(*words), cast(Post.id, String).like(bindparam("id_prefix"))),
        )
        .order_by(Post.id.desc())
        .limit(bindparam("limit"))
    )


_SEARCH = Statement(_search, name="search_user_posts")


@dataclass(frozen=True, slots=True)
class PostsPage:
    """A member's profile and one page of their posts, newest first."""

    owner: User
    posts: list[Post]


def _member(guild_id: int, discord_id: int) -> dict[str, int]:
    return {"guild_id": guild_id, "discord_id": discord_id}


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput("limit", f"A page holds between 1 and {PAGE_MAX} posts.")
    return limit


def _added(found: list[Row]) -> Post:
    post = _ADD_SHAPE.one_or_none(found)
    if post is None:
        raise NotRegistered
    return post


def add_post(guild_id: int, discord_id: int, title: str, body: str | None = None) -> Query[Post]:
    """Publish a post for a member; raises NotRegistered when they have no profile."""
    params = {
        **_member(guild_id, discord_id),
        "title": clean_title(title),
        "body": clean_body(body),
        "now": utcnow(),
    }
    return Query(_ADD, params, _added)


def _shape_page(found: list[Row]) -> PostsPage:
    if not found:
        raise NotRegistered
    owner = _PAGE_USER.make(found[0])
    post_id_at = len(User.__table__.columns)
    posts = [_PAGE_POST.make(row) for row in found if row[post_id_at] is not None]
    return PostsPage(owner, posts)


def get_posts_page(
    guild_id: int,
    discord_id: int,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 5,
) -> Query[PostsPage]:
    """A member's profile with one keyset page of their posts, newest first.

    ``before_id`` gives the page of older posts below that id, ``after_id`` the page of
    newer posts just above it (still returned newest first); neither gives the newest page.
    Keyset paging stays fast at any depth and does not shift when posts are added meanwhile.
    Raises NotRegistered when the member has no profile.
    """
    if before_id is not None and after_id is not None:
        raise ValueError("give before_id or after_id, not both")
    params = {**_member(guild_id, discord_id), "limit": _check_limit(limit)}
    if after_id is not None:
        return Query(_NEWER, {**params, "cursor": after_id}, _newest_first)
    return Query(
        _OLDER, {**params, "cursor": ID_MAX if before_id is None else before_id}, _shape_page
    )


def _newest_first(found: list[Row]) -> PostsPage:
    page = _shape_page(found)
    return PostsPage(page.owner, page.posts[::-1])


def get_user_posts(
    guild_id: int,
    discord_id: int,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 5,
) -> Query[list[Post]]:
    """A member's posts, newest first, one keyset page at a time (none without a profile)."""
    page = get_posts_page(guild_id, discord_id, before_id=before_id, after_id=after_id, limit=limit)

    def posts_only(found: list[Row]) -> list[Post]:
        return page.shape(found).posts if found else []

    return Query(page.statement, page.params, posts_only)


def delete_post(guild_id: int, discord_id: int, post_id: int) -> Query[Post]:
    """Delete one of a member's own posts; returns it. Anyone else's post is not found."""

    def shape(found: list[Row]) -> Post:
        post = _DELETE_SHAPE.one_or_none(found)
        if post is None:
            raise PostNotFound(post_id)
        return post

    return Query(_DELETE, {**_member(guild_id, discord_id), "post_id": post_id}, shape)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_user_posts(
    guild_id: int, discord_id: int, query: str, *, limit: int = 25
) -> Query[list[Row]]:
    """``(id, title)`` rows of a member's posts matching what they typed, newest first.

    Every word typed must begin a word of the title, in any order and case-insensitively
    (``hel th`` finds "Hello there"; the first five words count); digits, with or without ``#``, also match the start of a post
    id (``4`` finds #4 and #42). An empty query gives the newest posts. Made for
    autocomplete (``result.all()`` rows).
    """
    text = query.strip()[:SEARCH_QUERY_MAX]
    words = text.split()[:SEARCH_WORDS]
    patterns = {f"word{i}": "%" for i in range(SEARCH_WORDS)}
    patterns.update({f"inner_word{i}": "%" for i in range(SEARCH_WORDS)})
    for i, word in enumerate(words):
        folded = _like_escape(word.lower())
        patterns[f"word{i}"] = f"{folded}%"
        patterns[f"inner_word{i}"] = f"% {folded}%"
    digits = text.removeprefix("#")
    # An empty pattern matches no id: ids are never empty text.
    id_prefix = f"{digits}%" if digits.isascii() and digits.isdigit() else ""
    params = {
        **_member(guild_id, discord_id),
        **patterns,
        "id_prefix": id_prefix,
        "limit": _check_limit(limit),
    }
    return Query(_SEARCH, params, rows)


_COUNT = Statement(
    select(User.post_count).where(
        User.guild_id == bindparam("guild_id"), User.discord_id == bindparam("discord_id")
    ),
    name="count_posts",
)


def _count(found: list[Row]) -> int:
    return int(found[0][0]) if found else 0


def count_posts(guild_id: int, discord_id: int) -> Query[int]:
    """How many posts a member has in a guild (0 without a profile)."""
    return Query(_COUNT, _member(guild_id, discord_id), _count)


@dataclass(frozen=True, slots=True)
class Announcement:
    """Where a deleted post had been announced (None for posts older than that record)."""

    post_id: int
    channel_id: int | None
    message_id: int | None


_ANNOUNCED = Statement(
    update(Post)
    .where(Post.id == bindparam("post_id"), Post.guild_id == bindparam("guild_id"))
    .values(channel_id=bindparam("channel_id"), message_id=bindparam("message_id"))
    .returning(Post.id),
    name="set_announcement",
)
_DELETE_MEMBER_POSTS = Statement(
    delete(Post).where(_OWNED).returning(Post.id, Post.channel_id, Post.message_id),
    name="delete_member_posts",
)
_TAKE = Statement(
    delete(Post)
    .where(Post.id == bindparam("post_id"), Post.guild_id == bindparam("guild_id"))
    .returning(Post),
    name="take_post",
)
_TAKE_SHAPE = ModelShape(Post, _TAKE)
_AUTHOR = Statement(
    select(User.discord_id).where(User.id == bindparam("user_id")), name="post_author"
)
_ALL = Statement(select(Post).where(_OWNED).order_by(Post.id), name="all_member_posts")
_ALL_SHAPE = ModelShape(Post, _ALL)


def set_announcement(guild_id: int, post_id: int, channel_id: int, message_id: int) -> Query[bool]:
    """Remember the message that announced a post (False if the post is gone already)."""
    params = {
        "guild_id": guild_id,
        "post_id": post_id,
        "channel_id": channel_id,
        "message_id": message_id,
    }
    return Query(_ANNOUNCED, params, bool)


def _announcements(found: list[Row]) -> list[Announcement]:
    return [Announcement(int(r[0]), r[1], r[2]) for r in found]


def delete_member_posts(guild_id: int, discord_id: int) -> Query[list[Announcement]]:
    """Delete every post of a member in one statement; where each had been announced."""
    return Query(_DELETE_MEMBER_POSTS, _member(guild_id, discord_id), _announcements)


def take_post(guild_id: int, post_id: int) -> Query[Post]:
    """Delete any member's post of this guild (a moderator's removal); raises PostNotFound."""

    def shape(found: list[Row]) -> Post:
        post = _TAKE_SHAPE.one_or_none(found)
        if post is None:
            raise PostNotFound(post_id, anyone=True)
        return post

    return Query(_TAKE, {"guild_id": guild_id, "post_id": post_id}, shape)


def post_author(user_id: int) -> Query[int | None]:
    """The Discord id of a profile (by its row id), or None."""
    return Query(_AUTHOR, {"user_id": user_id}, lambda found: int(found[0][0]) if found else None)


def all_member_posts(guild_id: int, discord_id: int) -> Query[list[Post]]:
    """Every post of a member, oldest first (for their copy of their data)."""
    return Query(_ALL, _member(guild_id, discord_id), _ALL_SHAPE.all)
