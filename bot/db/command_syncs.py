"""The fingerprint of the command tree last uploaded to Discord, per application and scope.

Scope 0 is the global command list; any other scope is a guild id.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.base import Executable

from bot.db.models import CommandSync
from bot.db.statements import Query, Statement, nothing, scalar_one_or_none
from bot.db.types import utcnow

GLOBAL_SCOPE = 0

_GET = Statement(
    select(CommandSync.fingerprint).where(
        CommandSync.application_id == bindparam("application_id"),
        CommandSync.scope == bindparam("scope"),
    ),
    name="get_synced_fingerprint",
)


def _upsert(dialect: str) -> Executable:
    insert_for = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert_for(CommandSync).values(
        application_id=bindparam("application_id"),
        scope=bindparam("scope"),
        fingerprint=bindparam("fingerprint"),
        synced_at=bindparam("now", type_=CommandSync.synced_at.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[CommandSync.application_id, CommandSync.scope],
        set_={
            "fingerprint": statement.excluded.fingerprint,
            "synced_at": statement.excluded.synced_at,
        },
    )


_RECORD = Statement(_upsert, name="record_sync")


def get_synced_fingerprint(application_id: int, scope: int) -> Query[str | None]:
    """The fingerprint recorded at the last sync of this scope, or None if it never synced."""
    return Query(_GET, {"application_id": application_id, "scope": scope}, scalar_one_or_none)


def record_sync(application_id: int, scope: int, fingerprint: str) -> Query[None]:
    """Remember what was just uploaded (an upsert: concurrent shard processes may both sync)."""
    params = {
        "application_id": application_id,
        "scope": scope,
        "fingerprint": fingerprint,
        "now": utcnow(),
    }
    return Query(_RECORD, params, nothing)
