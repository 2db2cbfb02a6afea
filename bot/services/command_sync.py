"""What was last uploaded to Discord as the command list, so start-up syncs only on change."""

from __future__ import annotations

from bot.db import Database, command_syncs
from bot.db.command_syncs import GLOBAL_SCOPE

__all__ = ["GLOBAL_SCOPE", "record", "recorded"]


async def recorded(db: Database, application_id: int, scope: int) -> str | None:
    """The fingerprint of the last upload to this scope, or None if there was none."""
    return await db.read_one(command_syncs.get_synced_fingerprint(application_id, scope))


async def record(db: Database, application_id: int, scope: int, fingerprint: str) -> None:
    """Remember an upload (an upsert: several shard processes may record at once)."""
    await db.write_one(command_syncs.record_sync(application_id, scope, fingerprint))
