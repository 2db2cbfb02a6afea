"""Members' profiles: register, show, rename, and leave (the profile and every post go)."""

from __future__ import annotations

from bot.db import Database, User, users


async def register(db: Database, guild_id: int, member_id: int, name: str, age: int) -> User:
    """Create a member's profile; raises AlreadyRegistered or InvalidInput."""
    return await db.write_one(users.add_user(guild_id, member_id, name, age))


async def profile(db: Database, guild_id: int, member_id: int) -> User:
    """A member's profile with its post count; raises NotRegistered."""
    return await db.read_one(users.get_user(guild_id, member_id))


async def rename(db: Database, guild_id: int, member_id: int, name: str) -> User:
    """Change the name on a member's profile; raises NotRegistered or InvalidInput."""
    return await db.write_one(users.update_user_name(guild_id, member_id, name))


async def leave(db: Database, guild_id: int, member_id: int) -> int:
    """Delete a member's profile and all their posts; returns how many posts went."""
    return await db.write_one(users.delete_user(guild_id, member_id))
