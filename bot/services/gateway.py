"""The gateway's IDENTIFY turns, shared by every shard process of a PostgreSQL deployment."""

from __future__ import annotations

from datetime import timedelta

from bot.db import Database, identifies


async def reserve_identify(db: Database, bucket: int, spacing: float) -> float:
    """Reserve the next IDENTIFY turn of ``bucket``, ``spacing`` seconds after the one before;
    the seconds to wait for it (0: now). PostgreSQL only."""
    async with db.write() as unit:
        await unit.run(identifies.lock_bucket(bucket))
        wait = await unit.run(identifies.reserve(bucket, timedelta(seconds=spacing)))
    return max(wait, 0.0)
