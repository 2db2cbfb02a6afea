"""The gateway's IDENTIFY pace shared by shard processes on PostgreSQL.

Discord accepts one IDENTIFY per rate-limit bucket (``shard_id % max_concurrency``) every 5
seconds for the whole application, and answers one that comes sooner with an invalid
session. Each process reserves its turn in ``identify_buckets`` under the bucket's advisory
lock, then waits for it on its own: no lock is held while anyone waits. The times come from
the database's clock (``clock_timestamp()``, not the transaction's start), so the machines'
clocks never need to agree. PostgreSQL only: SQLite deployments are one process.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Integer, Interval, bindparam, func, select, type_coerce
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.base import Executable

from bot.db.advisory import IDENTIFY_NAMESPACE
from bot.db.models import IdentifyBucket
from bot.db.statements import Query, Row, Statement, nothing
from bot.db.types import UTCDateTime

_LOCK = Statement(
    select(
        func.pg_advisory_xact_lock(
            bindparam("namespace", type_=Integer), bindparam("bucket", type_=Integer)
        )
    ),
    name="lock_identify_bucket",
)


def _reserve(_dialect: str) -> Executable:
    now = func.clock_timestamp()
    spacing = bindparam("spacing", type_=Interval())
    statement = pg_insert(IdentifyBucket).values(bucket=bindparam("bucket"), identified_at=now)
    # The turn after the last one reserved, or now if that is long past.
    upsert = statement.on_conflict_do_update(
        index_elements=[IdentifyBucket.bucket],
        set_={"identified_at": func.greatest(IdentifyBucket.identified_at + spacing, now)},
    )
    return upsert.returning(IdentifyBucket.identified_at, type_coerce(now, UTCDateTime()))


_RESERVE = Statement(_reserve, name="reserve_identify")


def lock_bucket(bucket: int) -> Query[None]:
    """Wait for the bucket's advisory lock, held until the write unit ends.

    Reservations of one bucket then happen one at a time, in the order processes asked, the
    very first (when the bucket has no row yet) included.
    """
    return Query(_LOCK, {"namespace": IDENTIFY_NAMESPACE, "bucket": bucket}, nothing)


def _seconds_until(found: list[Row]) -> float:
    ((turn, now),) = found
    return float((turn - now).total_seconds())


def reserve(bucket: int, spacing: timedelta) -> Query[float]:
    """Take the bucket's next turn, ``spacing`` after the previous one (or now); the seconds
    until it comes, by the database's clock (0 or less: go now)."""
    return Query(_RESERVE, {"bucket": bucket, "spacing": spacing}, _seconds_until)
