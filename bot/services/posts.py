"""Posts: publish, page through one's own, delete, and find them for autocomplete."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from bot.db import Database, Post, User, posts
from bot.db.blocks import get_block
from bot.db.errors import ForeignKeyViolation
from bot.db.posts import Announcement
from bot.errors import Blocked, NotRegistered

__all__ = [
    "Announcement",
    "Direction",
    "PostsPage",
    "announced",
    "delete",
    "page_of_posts",
    "publish",
    "suggestions",
]

POSTS_PER_PAGE = 5
SUGGESTIONS = 25


class Direction(Enum):
    """Which way a page button turns: towards newer or older posts."""

    NEWER = "n"
    OLDER = "o"


@dataclass(frozen=True, slots=True)
class PostsPage:
    """One page of a member's posts, newest first, with what lies on either side."""

    owner: User
    posts: list[Post]
    page: int
    pages: int
    has_newer: bool
    has_older: bool

    @property
    def total(self) -> int:
        return self.owner.post_count


async def publish(
    db: Database, guild_id: int, member_id: int, title: str, body: str | None
) -> Post:
    """Publish a post; raises NotRegistered without a profile, InvalidInput for bad text."""
    try:
        return await db.write_one(posts.add_post(guild_id, member_id, title, body))
    except ForeignKeyViolation:
        # The profile went between the insert's lookup and its foreign-key check.
        raise NotRegistered from None
    except NotRegistered:
        # Nothing was inserted: no profile, or a block (decided by the same statement).
        if await db.read_one(get_block(guild_id, member_id)) is not None:
            raise Blocked from None
        raise


async def announced(
    db: Database, guild_id: int, post_id: int, channel_id: int, message_id: int
) -> None:
    """Remember the message that announced a post, so it can go with the post."""
    await db.write_one(posts.set_announcement(guild_id, post_id, channel_id, message_id))


async def page_of_posts(
    db: Database,
    guild_id: int,
    owner_id: int,
    *,
    direction: Direction | None = None,
    cursor: int = 0,
    page: int = 1,
) -> PostsPage:
    """The newest page of a member's posts, or the page beside ``cursor`` in ``direction``.

    One statement reads the profile, its post count and the page together, so they agree.
    A page whose posts were all deleted meanwhile starts again from the newest page.
    """
    window = POSTS_PER_PAGE + 1  # one more than a page tells whether there is more beyond
    if direction is Direction.NEWER:
        query = posts.get_posts_page(guild_id, owner_id, after_id=cursor, limit=window)
    elif direction is Direction.OLDER:
        query = posts.get_posts_page(guild_id, owner_id, before_id=cursor, limit=window)
    else:
        query = posts.get_posts_page(guild_id, owner_id, limit=window)
    found = await db.read_one(query)
    more = len(found.posts) == window
    pages = max(1, math.ceil(found.owner.post_count / POSTS_PER_PAGE))
    if direction is Direction.NEWER:
        shown, has_newer, has_older = found.posts[-POSTS_PER_PAGE:], more, True
        page = page - 1 if more else 1
    elif direction is Direction.OLDER:
        shown, has_newer, has_older = found.posts[:POSTS_PER_PAGE], True, more
        page = page + 1 if more else pages
    else:
        shown, has_newer, has_older = found.posts[:POSTS_PER_PAGE], False, more
        page = 1
    if not shown and direction is not None:
        return await page_of_posts(db, guild_id, owner_id)
    return PostsPage(found.owner, shown, min(max(page, 1), pages), pages, has_newer, has_older)


async def delete(db: Database, guild_id: int, member_id: int, post_id: int) -> Post:
    """Delete one of a member's own posts; raises PostNotFound for anyone else's."""
    return await db.write_one(posts.delete_post(guild_id, member_id, post_id))


async def suggestions(
    db: Database, guild_id: int, member_id: int, typed: str
) -> list[tuple[int, str]]:
    """``(id, title)`` of the member's posts matching what they typed, newest first."""
    found = await db.read_one(
        posts.search_user_posts(guild_id, member_id, typed, limit=SUGGESTIONS)
    )
    return [(int(post_id), str(title)) for post_id, title in found]
