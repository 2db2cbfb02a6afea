"""What shard processes of one deployment agree on through the database: who syncs the
commands (once, under a lock, never an older version over a newer one), and the IDENTIFY
turns of each gateway rate-limit bucket (PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.db import Database
from bot.db.advisory import SYNC_NAMESPACE, int4_key
from bot.db.command_syncs import GLOBAL_SCOPE, get_sync_record
from bot.db.migrate import upgrade
from bot.services import command_sync, gateway
from bot.services.command_sync import SyncOutcome, is_newer, sync_once
from tests.conftest import _asyncpg_dsn, empty_postgres

APP = 42


class Uploads:
    """Stands in for the upload to Discord and counts the calls."""

    def __init__(self, *, fails: bool = False, pause: float = 0.0) -> None:
        self.calls = 0
        self.fails = fails
        self.pause = pause

    async def __call__(self) -> int:
        self.calls += 1
        if self.pause:
            await asyncio.sleep(self.pause)
        if self.fails:
            raise RuntimeError("Discord said no")
        return 11


async def test_the_first_sync_uploads_and_records_the_version(db: Database) -> None:
    upload = Uploads()
    result = await sync_once(db, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=upload)
    assert (result.outcome, result.uploaded, upload.calls) == (SyncOutcome.UPLOADED, 11, 1)
    record = await db.read_one(get_sync_record(APP, GLOBAL_SCOPE))
    assert record is not None
    assert (record.fingerprint, record.bot_version) == ("a" * 64, "0.1.0")


async def test_an_unchanged_tree_is_not_uploaded_again(db: Database) -> None:
    upload = Uploads()
    await sync_once(db, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=upload)
    result = await sync_once(db, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=upload)
    assert (result.outcome, upload.calls) == (SyncOutcome.UNCHANGED, 1)


async def test_an_older_version_never_uploads_over_a_newer_one(db: Database) -> None:
    upload = Uploads()
    await sync_once(db, APP, GLOBAL_SCOPE, "n" * 64, version="0.10.0", upload=upload)
    older = await sync_once(db, APP, GLOBAL_SCOPE, "o" * 64, version="0.9.3", upload=upload)
    assert older.outcome is SyncOutcome.NEWER_RECORDED
    assert older.recorded_version == "0.10.0"
    assert upload.calls == 1
    record = await db.read_one(get_sync_record(APP, GLOBAL_SCOPE))
    assert record is not None
    assert (record.fingerprint, record.bot_version) == ("n" * 64, "0.10.0")
    # The same version with another tree (work in progress) and a newer one do upload.
    same = await sync_once(db, APP, GLOBAL_SCOPE, "s" * 64, version="0.10", upload=upload)
    newer = await sync_once(db, APP, GLOBAL_SCOPE, "m" * 64, version="0.11.0", upload=upload)
    assert (same.outcome, newer.outcome, upload.calls) == (
        SyncOutcome.UPLOADED,
        SyncOutcome.UPLOADED,
        3,
    )


async def test_a_sync_recorded_before_versions_were_is_older_than_any(db: Database) -> None:
    await command_sync.record(db, APP, GLOBAL_SCOPE, "x" * 64)  # no version, as before 0005
    upload = Uploads()
    result = await sync_once(db, APP, GLOBAL_SCOPE, "y" * 64, version="0.1.0", upload=upload)
    assert (result.outcome, upload.calls) == (SyncOutcome.UPLOADED, 1)


async def test_force_uploads_whatever_was_recorded(db: Database) -> None:
    upload = Uploads()
    await sync_once(db, APP, GLOBAL_SCOPE, "a" * 64, version="9.0.0", upload=upload)
    result = await sync_once(
        db, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=upload, force=True
    )
    assert (result.outcome, upload.calls) == (SyncOutcome.UPLOADED, 2)


async def test_a_failed_upload_records_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        await sync_once(
            db, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=Uploads(fails=True)
        )
    assert await db.read_one(get_sync_record(APP, GLOBAL_SCOPE)) is None


@pytest.mark.parametrize(
    ("recorded", "mine", "newer"),
    [
        (None, "0.1.0", False),
        ("0.1.0", "0.1.0", False),
        ("0.1", "0.1.0", False),
        ("0.2.0", "0.1.9", True),
        ("0.1.9", "0.2.0", False),
        ("1.0.0rc1", "0.1.0", True),  # a scheme this version cannot read: assume newer
    ],
)
def test_which_recorded_versions_are_newer(recorded: str | None, mine: str, newer: bool) -> None:
    assert is_newer(recorded, mine) is newer


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[Database]:
    await empty_postgres(postgres_url)
    await upgrade(postgres_url)
    async with Database(postgres_url) as database:
        yield database


async def test_a_process_that_finds_the_sync_lock_taken_does_not_wait_or_upload(
    pg_db: Database, postgres_url: str
) -> None:
    other = await asyncpg.connect(_asyncpg_dsn(postgres_url))
    try:
        async with other.transaction():
            key = int4_key(f"{APP}:{GLOBAL_SCOPE}")
            assert await other.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, $2)", SYNC_NAMESPACE, key
            )
            upload = Uploads()
            result = await sync_once(
                pg_db, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=upload
            )
        assert (result.outcome, upload.calls) == (SyncOutcome.BUSY, 0)
    finally:
        await other.close()
    # Once the other transaction ended, the lock is free again.
    result = await sync_once(pg_db, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=Uploads())
    assert result.outcome is SyncOutcome.UPLOADED


async def test_processes_starting_together_upload_once(postgres_url: str, pg_db: Database) -> None:
    """Shard-0 processes of two versions overlapping in a deploy: one uploads, the other sees
    the lock taken (or, arriving after, the record)."""
    upload = Uploads(pause=0.2)  # the upload takes a while, as Discord's does
    databases = [Database(postgres_url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(
                sync_once(d, APP, GLOBAL_SCOPE, "a" * 64, version="0.1.0", upload=upload)
                for d in databases
            )
        )
    finally:
        for database in databases:
            await database.close()
    outcomes = sorted(r.outcome for r in results)
    assert upload.calls == 1
    assert outcomes.count(SyncOutcome.UPLOADED) == 1
    assert set(outcomes) <= {SyncOutcome.UPLOADED, SyncOutcome.BUSY, SyncOutcome.UNCHANGED}


# An hour between turns: the figures below then do not depend on how fast the machine is.
HOUR = 3600.0


async def test_identify_turns_of_one_bucket_are_spaced(pg_db: Database) -> None:
    first = await gateway.reserve_identify(pg_db, 0, HOUR)
    second = await gateway.reserve_identify(pg_db, 0, HOUR)
    third = await gateway.reserve_identify(pg_db, 0, HOUR)
    assert first == 0.0  # nobody identified yet: go now
    # Each waits one spacing more than the one before (less the moments between the calls).
    assert HOUR - 60 < second <= HOUR
    assert 2 * HOUR - 60 < third <= 2 * HOUR


async def test_buckets_have_turns_of_their_own(pg_db: Database) -> None:
    assert await gateway.reserve_identify(pg_db, 0, HOUR) == 0.0
    assert await gateway.reserve_identify(pg_db, 1, HOUR) == 0.0
    assert await gateway.reserve_identify(pg_db, 0, HOUR) > HOUR - 60


async def test_processes_reserving_at_once_get_distinct_turns(
    postgres_url: str, pg_db: Database
) -> None:
    databases = [Database(postgres_url) for _ in range(5)]
    try:
        waits = await asyncio.gather(*(gateway.reserve_identify(d, 3, HOUR) for d in databases))
    finally:
        for database in databases:
            await database.close()
    waits.sort()
    assert waits[0] == 0.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(waits)]
    # Every turn one spacing after the one before, whoever asked first.
    assert all(HOUR - 60 < gap < HOUR + 60 for gap in gaps), waits


async def test_a_spacing_of_zero_never_waits(pg_db: Database) -> None:
    for _ in range(3):
        assert await gateway.reserve_identify(pg_db, 0, 0.0) == 0.0
