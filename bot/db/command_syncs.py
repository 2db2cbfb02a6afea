"""The fingerprint of the command tree last uploaded to Discord, per application and scope.

Scope 0 is the global command list; any other scope is a guild id.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.db.database import Database
from bot.db.models import CommandSync
from bot.db.types import utcnow

GLOBAL_SCOPE = 0


async def get_synced_fingerprint(db: Database, application_id: int, scope: int) -> str | None:
    """The fingerprint recorded at the last sync of this scope, or None if it never synced."""
    async with db.read() as session:
        result = await session.execute(
            select(CommandSync.fingerprint).where(
                CommandSync.application_id == application_id, CommandSync.scope == scope
            )
        )
        return result.scalar_one_or_none()


async def record_sync(db: Database, application_id: int, scope: int, fingerprint: str) -> None:
    """Remember what was just uploaded (an upsert: concurrent shard processes may both sync)."""
    insert = pg_insert if db.backend == "postgresql" else sqlite_insert
    now = utcnow()
    statement = insert(CommandSync).values(
        application_id=application_id, scope=scope, fingerprint=fingerprint, synced_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[CommandSync.application_id, CommandSync.scope],
        set_={"fingerprint": fingerprint, "synced_at": now},
    )
    async with db.write() as session:
        await session.execute(statement)
