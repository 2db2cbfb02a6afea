"""Members' profiles: register, show, rename, and leave (the profile and every post go).

A blocked member's /register and /rename change nothing (the block is decided in the same
statement); only then is the block looked up, to say so instead of the usual refusal.
"""

from __future__ import annotations

from bot.db import Database, User, users
from bot.db import blocks as block_queries
from bot.db import posts as post_queries
from bot.db.posts import Announcement
from bot.errors import AlreadyRegistered, Blocked, NotRegistered


async def _blocked(db: Database, guild_id: int, member_id: int) -> bool:
    return await db.read_one(block_queries.get_block(guild_id, member_id)) is not None


async def register(db: Database, guild_id: int, member_id: int, name: str, age: int) -> User:
    """Create a member's profile; raises AlreadyRegistered, Blocked or InvalidInput."""
    try:
        return await db.write_one(users.add_user(guild_id, member_id, name, age))
    except AlreadyRegistered:
        if await _blocked(db, guild_id, member_id):
            raise Blocked from None
        raise


async def profile(db: Database, guild_id: int, member_id: int) -> User:
    """A member's profile with its post count; raises NotRegistered."""
    return await db.read_one(users.get_user(guild_id, member_id))


async def rename(db: Database, guild_id: int, member_id: int, name: str) -> User:
    """Change the name on a member's profile; raises NotRegistered, Blocked or InvalidInput."""
    try:
        return await db.write_one(users.update_user_name(guild_id, member_id, name))
    except NotRegistered:
        if await _blocked(db, guild_id, member_id):
            raise Blocked from None
        raise


async def leave(db: Database, guild_id: int, member_id: int) -> tuple[int, list[Announcement]]:
    """Delete a member's profile and all their posts; how many posts went, and where they
    had been announced (for the caller to delete those messages)."""
    async with db.write() as unit:
        gone = await unit.run(post_queries.delete_member_posts(guild_id, member_id))
        await unit.run(users.delete_user(guild_id, member_id))
    return len(gone), gone
