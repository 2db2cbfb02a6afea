"""Queries on moderators' requests waiting for Confirm (``PendingConfirmation``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert

from bot.db.models import PendingConfirmation
from bot.db.statements import ModelShape, Query, Statement, nothing
from bot.db.types import utcnow

# Longer than any button lives (CONFIRM_TIMEOUT_SECONDS is at most 600) plus any clock
# difference between processes: a request older than this can no longer be confirmed.
KEPT_FOR = timedelta(hours=1)

_ADD = Statement(
    insert(PendingConfirmation)
    .values(
        guild_id=bindparam("guild_id"),
        owner_id=bindparam("owner_id"),
        action=bindparam("action"),
        target_id=bindparam("target_id"),
        reason=bindparam("reason"),
        created_at=bindparam("now", type_=PendingConfirmation.created_at.type),
    )
    .returning(PendingConfirmation.id),
    name="add_confirmation",
)
_TAKE = Statement(
    delete(PendingConfirmation)
    .where(
        PendingConfirmation.id == bindparam("confirmation_id"),
        PendingConfirmation.guild_id == bindparam("guild_id"),
        PendingConfirmation.owner_id == bindparam("owner_id"),
        PendingConfirmation.action == bindparam("action"),
    )
    .returning(PendingConfirmation),
    name="take_confirmation",
)
_TAKE_SHAPE = ModelShape(PendingConfirmation, _TAKE)


_FORGET = Statement(
    delete(PendingConfirmation).where(
        PendingConfirmation.guild_id == bindparam("guild_id"),
        PendingConfirmation.created_at
        < bindparam("before", type_=PendingConfirmation.created_at.type),
    ),
    name="forget_stale_confirmations",
)


def forget_stale(guild_id: int, *, now: datetime | None = None) -> Query[None]:
    """Drop this guild's requests whose buttons expired unpressed (nobody else removes them)."""
    params = {"guild_id": guild_id, "before": (now or utcnow()) - KEPT_FOR}
    return Query(_FORGET, params, nothing)


def add_confirmation(
    guild_id: int, owner_id: int, action: str, target_id: int, reason: str | None
) -> Query[int]:
    """Keep a request until Confirm; its id goes into the buttons."""
    params = {
        "guild_id": guild_id,
        "owner_id": owner_id,
        "action": action,
        "target_id": target_id,
        "reason": reason,
        "now": utcnow(),
    }
    return Query(_ADD, params, lambda found: int(found[0][0]))


def take_confirmation(
    confirmation_id: int, guild_id: int, owner_id: int, action: str
) -> Query[PendingConfirmation | None]:
    """Remove a request and return it; None if it was confirmed, cancelled or is not theirs."""
    params = {
        "confirmation_id": confirmation_id,
        "guild_id": guild_id,
        "owner_id": owner_id,
        "action": action,
    }
    return Query(_TAKE, params, _TAKE_SHAPE.one_or_none)
