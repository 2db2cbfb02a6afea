"""The command tree last uploaded to Discord, per application and scope: its fingerprint and
the Bulletin version that uploaded it; and the lock under which one process syncs.

Scope 0 is the global command list; any other scope is a guild id.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, String, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.base import Executable

from bot.db.advisory import SYNC_NAMESPACE, int4_key
from bot.db.models import CommandSync
from bot.db.statements import Query, Row, Statement, nothing, scalar_one, scalar_one_or_none
from bot.db.types import utcnow

GLOBAL_SCOPE = 0


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """What the last sync of a scope uploaded, and which version did it (None: before 0005)."""

    fingerprint: str
    bot_version: str | None


_GET = Statement(
    select(CommandSync.fingerprint).where(
        CommandSync.application_id == bindparam("application_id"),
        CommandSync.scope == bindparam("scope"),
    ),
    name="get_synced_fingerprint",
)
_GET_RECORD = Statement(
    select(CommandSync.fingerprint, CommandSync.bot_version).where(
        CommandSync.application_id == bindparam("application_id"),
        CommandSync.scope == bindparam("scope"),
    ),
    name="get_sync_record",
)


def _try_lock(dialect: str) -> Executable:
    if dialect == "sqlite":
        # The write unit's BEGIN IMMEDIATE already holds the only write lock there is.
        return select(literal(True))
    return select(
        func.pg_try_advisory_xact_lock(
            bindparam("namespace", type_=Integer), bindparam("key", type_=Integer)
        )
    )


_TRY_LOCK = Statement(_try_lock, name="try_lock_sync")


def _allow_idle(dialect: str) -> Executable:
    if dialect == "sqlite":
        return select(literal(True))
    # SET LOCAL, as a function so that the value can be a parameter; it ends with the
    # transaction, so the pooled connection keeps no session state.
    return select(
        func.set_config(
            literal("idle_in_transaction_session_timeout"),
            bindparam("milliseconds", type_=String),
            literal(True),
        )
    )


_ALLOW_IDLE = Statement(_allow_idle, name="allow_idle_during_sync")


def _upsert(dialect: str) -> Executable:
    insert_for = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert_for(CommandSync).values(
        application_id=bindparam("application_id"),
        scope=bindparam("scope"),
        fingerprint=bindparam("fingerprint"),
        synced_at=bindparam("now", type_=CommandSync.synced_at.type),
        bot_version=bindparam("bot_version", type_=CommandSync.bot_version.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[CommandSync.application_id, CommandSync.scope],
        set_={
            "fingerprint": statement.excluded.fingerprint,
            "synced_at": statement.excluded.synced_at,
            "bot_version": statement.excluded.bot_version,
        },
    )


_RECORD = Statement(_upsert, name="record_sync")


def get_synced_fingerprint(application_id: int, scope: int) -> Query[str | None]:
    """The fingerprint recorded at the last sync of this scope, or None if it never synced."""
    return Query(_GET, {"application_id": application_id, "scope": scope}, scalar_one_or_none)


def _record_shape(found: list[Row]) -> SyncRecord | None:
    if not found:
        return None
    fingerprint, version = found[0]
    return SyncRecord(str(fingerprint), None if version is None else str(version))


def get_sync_record(application_id: int, scope: int) -> Query[SyncRecord | None]:
    """The last sync of this scope (fingerprint and version), or None if it never synced."""
    return Query(_GET_RECORD, {"application_id": application_id, "scope": scope}, _record_shape)


def try_lock_sync(application_id: int, scope: int) -> Query[bool]:
    """Take this scope's sync lock for the rest of the write unit; False if another process
    holds it (PostgreSQL's ``pg_try_advisory_xact_lock``: no waiting). Always True on SQLite,
    whose write unit is exclusive already."""
    params = {"namespace": SYNC_NAMESPACE, "key": int4_key(f"{application_id}:{scope}")}
    return Query(_TRY_LOCK, params, lambda found: bool(scalar_one(found)))


def allow_idle(seconds: float) -> Query[None]:
    """Let this write unit's transaction wait on something else (an upload to Discord) for up
    to ``seconds`` before PostgreSQL's idle-in-transaction timeout ends it; nothing on SQLite."""
    return Query(_ALLOW_IDLE, {"milliseconds": str(round(seconds * 1000))}, nothing)


def record_sync(
    application_id: int, scope: int, fingerprint: str, bot_version: str | None = None
) -> Query[None]:
    """Remember what was just uploaded, and by which version (an upsert)."""
    params = {
        "application_id": application_id,
        "scope": scope,
        "fingerprint": fingerprint,
        "now": utcnow(),
        "bot_version": bot_version,
    }
    return Query(_RECORD, params, nothing)
