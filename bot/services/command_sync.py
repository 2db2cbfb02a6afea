"""Command sync once per deployment: what was last uploaded, by which version, and the one
place that decides whether this process uploads now.

Several shard processes start at once, and during a rolling deploy old and new versions run
side by side. ``sync_once`` uploads only inside a write unit that holds the scope's sync lock
(PostgreSQL's ``pg_try_advisory_xact_lock``: a process that finds it taken does not wait, as
another is syncing), and records the fingerprint and this version in that same transaction.
It uploads only if the tree differs from the recorded one and the recorded version is not
newer than this one: an older process must not flip the commands back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.db import Database, command_syncs, deadline_in
from bot.db.command_syncs import GLOBAL_SCOPE, SyncRecord
from bot.parsing import NumberError, parse_version

__all__ = [
    "GLOBAL_SCOPE",
    "SYNC_SECONDS",
    "SyncOutcome",
    "SyncResult",
    "is_newer",
    "record",
    "recorded",
    "sync_once",
]

# How long the sync's unit may last, the upload to Discord (and its rate limits) included.
SYNC_SECONDS = 120.0


class SyncOutcome(StrEnum):
    UPLOADED = "uploaded"
    UNCHANGED = "unchanged"
    NEWER_RECORDED = "newer recorded"
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class SyncResult:
    outcome: SyncOutcome
    uploaded: int = 0
    # The version that recorded the last sync, when it is newer than this one.
    recorded_version: str | None = None


def is_newer(recorded: str | None, mine: str) -> bool:
    """Whether ``recorded`` is a newer version than ``mine``.

    None (a sync recorded before versions were) is older than anything. A version that does
    not parse was written by some later Bulletin with another scheme: newer.
    """
    if recorded is None:
        return False
    try:
        theirs = parse_version(recorded)
    except NumberError:
        return True
    return theirs > parse_version(mine)


async def sync_once(
    db: Database,
    application_id: int,
    scope: int,
    fingerprint: str,
    *,
    version: str,
    upload: Callable[[], Awaitable[int]],
    force: bool = False,
) -> SyncResult:
    """Call ``upload`` (which returns how many commands it uploaded) if this process should
    sync, under the scope's lock, and record it in the same transaction.

    ``force`` uploads whatever was recorded, by whatever version (a Discord that forgot its
    commands, such as a fresh emulator). An exception from ``upload`` rolls everything back.
    """
    with deadline_in(SYNC_SECONDS):
        async with db.write() as unit:
            if not await unit.run(command_syncs.try_lock_sync(application_id, scope)):
                return SyncResult(SyncOutcome.BUSY)
            await unit.run(command_syncs.allow_idle(SYNC_SECONDS))
            last: SyncRecord | None = await unit.run(
                command_syncs.get_sync_record(application_id, scope)
            )
            if last is not None and not force:
                if is_newer(last.bot_version, version):
                    return SyncResult(SyncOutcome.NEWER_RECORDED, recorded_version=last.bot_version)
                if last.fingerprint == fingerprint:
                    return SyncResult(SyncOutcome.UNCHANGED)
            uploaded = await upload()
            await unit.run(command_syncs.record_sync(application_id, scope, fingerprint, version))
    return SyncResult(SyncOutcome.UPLOADED, uploaded=uploaded)


async def recorded(db: Database, application_id: int, scope: int) -> str | None:
    """The fingerprint of the last upload to this scope, or None if there was none."""
    return await db.read_one(command_syncs.get_synced_fingerprint(application_id, scope))


async def record(
    db: Database, application_id: int, scope: int, fingerprint: str, version: str | None = None
) -> None:
    """Remember an upload made outside ``sync_once`` (``python -m bot sync``): an upsert."""
    await db.write_one(command_syncs.record_sync(application_id, scope, fingerprint, version))
