"""Queries on moderation cases and per-guild settings, each scoped to one guild.

A case's number comes from the guild's counter row (``next_case_number``), taken in the
same write unit as the case itself (``add_case``), so concurrent moderators get 1, 2, 3…
with no gap or duplicate; the ``(guild_id, number)`` unique constraint guards it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, insert, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.base import Executable

from bot.db.models import Case, CaseAmendment, CaseKind, GuildSettings
from bot.db.statements import ModelShape, Query, Row, Statement, scalar_one, scalars
from bot.db.types import utcnow
from bot.errors import CaseNotFound

PAGE_MAX = 100


def _counter(dialect: str) -> Executable:
    insert_for = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert_for(GuildSettings).values(
        guild_id=bindparam("guild_id"),
        last_case=1,
        updated_at=bindparam("now", type_=GuildSettings.updated_at.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[GuildSettings.guild_id],
        set_={
            "last_case": GuildSettings.last_case + 1,
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(GuildSettings.last_case)


_NEXT = Statement(_counter, name="next_case_number")
_ADD = Statement(
    insert(Case)
    .values(
        guild_id=bindparam("guild_id"),
        number=bindparam("number"),
        kind=bindparam("kind"),
        target_id=bindparam("target_id"),
        moderator_id=bindparam("moderator_id"),
        reason=bindparam("reason"),
        created_at=bindparam("now", type_=Case.created_at.type),
        expires_at=bindparam("expires_at", type_=Case.expires_at.type),
        lifted_at=None,
        modlog_channel_id=None,
        modlog_message_id=None,
    )
    .returning(Case),
    name="add_case",
)
_ADD_SHAPE = ModelShape(Case, _ADD)
_GET = Statement(
    select(Case).where(Case.guild_id == bindparam("guild_id"), Case.number == bindparam("number")),
    name="get_case",
)
_GET_SHAPE = ModelShape(Case, _GET)


def _list_statement(member_view: bool) -> Statement:
    statement = select(Case).where(
        Case.guild_id == bindparam("guild_id"),
        Case.target_id == bindparam("target_id"),
        Case.number < bindparam("before"),
    )
    if member_view:
        hidden = [kind.value for kind in CaseKind if not kind.member_visible]
        statement = statement.where(*(Case.kind != kind for kind in hidden))
    return Statement(
        statement.order_by(Case.number.desc()).limit(bindparam("limit")),
        name="list_member_cases" if member_view else "list_cases",
    )


_LIST_ALL = _list_statement(member_view=False)
_LIST_VISIBLE = _list_statement(member_view=True)
_LIST_SHAPE = ModelShape(Case, _LIST_ALL)
# The old reason goes into an amendment row, copied by the database itself.
_KEEP_REASON = Statement(
    insert(CaseAmendment)
    .from_select(
        ["case_id", "previous_reason", "moderator_id", "created_at"],
        select(
            Case.id,
            Case.reason,
            bindparam("moderator_id", type_=CaseAmendment.moderator_id.type),
            bindparam("now", type_=CaseAmendment.created_at.type),
        ).where(Case.guild_id == bindparam("guild_id"), Case.number == bindparam("number")),
    )
    .returning(CaseAmendment.id),
    name="keep_case_reason",
)
_SET_REASON = Statement(
    update(Case)
    .where(Case.guild_id == bindparam("guild_id"), Case.number == bindparam("number"))
    .values(reason=bindparam("reason"))
    .returning(Case),
    name="set_case_reason",
)
_SET_REASON_SHAPE = ModelShape(Case, _SET_REASON)
_AMENDMENTS = Statement(
    select(CaseAmendment)
    .join(Case, Case.id == CaseAmendment.case_id)
    .where(Case.guild_id == bindparam("guild_id"), Case.number == bindparam("number"))
    .order_by(CaseAmendment.id),
    name="case_amendments",
)
_AMENDMENTS_SHAPE = ModelShape(CaseAmendment, _AMENDMENTS)
_SET_MODLOG_MESSAGE = Statement(
    update(Case)
    .where(Case.guild_id == bindparam("guild_id"), Case.number == bindparam("number"))
    .values(modlog_channel_id=bindparam("channel_id"), modlog_message_id=bindparam("message_id"))
    .returning(Case.id),
    name="set_modlog_message",
)


def _settings(dialect: str) -> Executable:
    insert_for = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert_for(GuildSettings).values(
        guild_id=bindparam("guild_id"),
        last_case=0,
        modlog_channel_id=bindparam("channel_id", type_=GuildSettings.modlog_channel_id.type),
        updated_at=bindparam("now", type_=GuildSettings.updated_at.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[GuildSettings.guild_id],
        set_={
            "modlog_channel_id": statement.excluded.modlog_channel_id,
            "updated_at": statement.excluded.updated_at,
        },
    )


_SET_MODLOG_CHANNEL = Statement(_settings, name="set_modlog_channel")
_GET_MODLOG_CHANNEL = Statement(
    select(GuildSettings.modlog_channel_id).where(GuildSettings.guild_id == bindparam("guild_id")),
    name="get_modlog_channel",
)
# A snowflake's timestamp lies above its low 22 bits; Discord's shard of a guild is taken from it.
DISCORD_EPOCH_SHIFT = 22
BEFORE_ANY_EXPIRY = datetime(1970, 1, 1, tzinfo=UTC)
_PENDING = and_(Case.kind == CaseKind.BAN.value, Case.lifted_at.is_(None))
_AFTER_AT = bindparam("after_at", type_=Case.expires_at.type)
_NOW = bindparam("now", type_=Case.lifted_at.type)
# Nobody is lifting it: never claimed, released, or its claimant's lease ran out.
_UNCLAIMED = or_(Case.expiry_claimed_until.is_(None), Case.expiry_claimed_until <= _NOW)
# How long a process may take to lift a ban it claimed before another may try: far more
# than one HTTP call, and the most a ban outlives its end when a process dies holding it.
EXPIRY_LEASE = timedelta(minutes=5)
_DUE = Statement(
    select(Case)
    .where(
        _PENDING,
        Case.expires_at.is_not(None),
        Case.expires_at <= _NOW,
        _UNCLAIMED,
        # The guild's shard, as Discord computes it: (guild_id >> 22) % shard_count.
        Case.guild_id.op(">>")(literal_column(str(DISCORD_EPOCH_SHIFT), Integer))
        % bindparam("shard_count", type_=Integer)
        == bindparam("shard_id"),
        # Keyset: the page after the last one read, so rows that cannot be lifted now never
        # hide the ones behind them.
        or_(
            Case.expires_at > _AFTER_AT,
            and_(Case.expires_at == _AFTER_AT, Case.id > bindparam("after_id")),
        ),
    )
    .order_by(Case.expires_at, Case.id)
    .limit(bindparam("limit")),
    name="due_expiries",
)
_DUE_SHAPE = ModelShape(Case, _DUE)
# Claimed by the one process whose UPDATE changes the row: no expiry is lifted twice at once.
_CLAIM = Statement(
    update(Case)
    .where(Case.id == bindparam("case_id"), Case.lifted_at.is_(None), _UNCLAIMED)
    .values(expiry_claimed_until=bindparam("until", type_=Case.lifted_at.type))
    .returning(Case),
    name="claim_expiry",
)
_CLAIM_SHAPE = ModelShape(Case, _CLAIM)
_LIFTED = Statement(
    update(Case)
    .where(Case.id == bindparam("case_id"), Case.lifted_at.is_(None))
    .values(lifted_at=_NOW, expiry_claimed_until=None)
    .returning(Case),
    name="mark_expiry_lifted",
)
_LIFTED_SHAPE = ModelShape(Case, _LIFTED)
_RELEASE = Statement(
    update(Case)
    .where(Case.id == bindparam("case_id"), Case.lifted_at.is_(None))
    .values(expiry_claimed_until=None)
    .returning(Case.id),
    name="release_expiry",
)
_CANCEL = Statement(
    update(Case)
    .where(
        Case.guild_id == bindparam("guild_id"),
        Case.target_id == bindparam("target_id"),
        _PENDING,
        Case.expires_at.is_not(None),
    )
    .values(lifted_at=bindparam("now", type_=Case.lifted_at.type))
    .returning(Case.number),
    name="cancel_expiries",
)


def next_case_number(guild_id: int) -> Query[int]:
    """Take the guild's next case number (run it in the case's own write unit)."""
    return Query(
        _NEXT, {"guild_id": guild_id, "now": utcnow()}, lambda found: int(scalar_one(found))
    )


def add_case(
    guild_id: int,
    number: int,
    kind: CaseKind,
    *,
    target_id: int,
    moderator_id: int | None,
    reason: str | None,
    expires_at: datetime | None = None,
) -> Query[Case]:
    """Record a case under a number taken with ``next_case_number``."""
    params = {
        "guild_id": guild_id,
        "number": number,
        "kind": kind.value,
        "target_id": target_id,
        "moderator_id": moderator_id,
        "reason": reason,
        "now": utcnow(),
        "expires_at": expires_at,
    }
    return Query(_ADD, params, lambda found: _one(_ADD_SHAPE.one_or_none(found), number))


def _one(case: Case | None, number: int) -> Case:
    if case is None:
        raise CaseNotFound(number)
    return case


def get_case(guild_id: int, number: int) -> Query[Case]:
    """One case of this guild; raises CaseNotFound (another guild's number is not found)."""
    return Query(
        _GET,
        {"guild_id": guild_id, "number": number},
        lambda found: _one(_GET_SHAPE.one_or_none(found), number),
    )


def list_cases(
    guild_id: int,
    target_id: int,
    *,
    before: int | None = None,
    limit: int = 10,
    member_view: bool = False,
) -> Query[list[Case]]:
    """A member's cases, newest first, one keyset page below ``before``.

    ``member_view`` leaves out what the member never sees (notes).
    """
    params: dict[str, Any] = {
        "guild_id": guild_id,
        "target_id": target_id,
        "before": before if before is not None else 2**31 - 1,
        "limit": max(1, min(limit, PAGE_MAX)),
    }
    statement = _LIST_VISIBLE if member_view else _LIST_ALL
    return Query(statement, params, _LIST_SHAPE.all)


def keep_reason(guild_id: int, number: int, moderator_id: int) -> Query[int]:
    """Copy a case's current reason into an amendment; raises CaseNotFound."""
    params = {"guild_id": guild_id, "number": number, "moderator_id": moderator_id, "now": utcnow()}

    def shape(found: list[Row]) -> int:
        if not found:
            raise CaseNotFound(number)
        return int(found[0][0])

    return Query(_KEEP_REASON, params, shape)


def set_reason(guild_id: int, number: int, reason: str) -> Query[Case]:
    """Replace a case's reason (after ``keep_reason`` in the same unit)."""
    params = {"guild_id": guild_id, "number": number, "reason": reason}
    return Query(
        _SET_REASON, params, lambda found: _one(_SET_REASON_SHAPE.one_or_none(found), number)
    )


def list_amendments(guild_id: int, number: int) -> Query[list[CaseAmendment]]:
    """A case's earlier reasons, oldest first."""
    return Query(_AMENDMENTS, {"guild_id": guild_id, "number": number}, _AMENDMENTS_SHAPE.all)


def set_modlog_message(guild_id: int, number: int, channel_id: int, message_id: int) -> Query[bool]:
    """Remember where a case was posted in the mod log (so an amendment can edit it)."""
    params = {
        "guild_id": guild_id,
        "number": number,
        "channel_id": channel_id,
        "message_id": message_id,
    }
    return Query(_SET_MODLOG_MESSAGE, params, bool)


def set_modlog_channel(guild_id: int, channel_id: int | None) -> Query[None]:
    """Set (or with None, clear) the guild's mod-log channel."""
    params = {"guild_id": guild_id, "channel_id": channel_id, "now": utcnow()}
    return Query(_SET_MODLOG_CHANNEL, params, lambda _found: None)


def get_modlog_channel(guild_id: int) -> Query[int | None]:
    """The guild's mod-log channel, or None."""

    def shape(found: list[Row]) -> int | None:
        return int(found[0][0]) if found and found[0][0] is not None else None

    return Query(_GET_MODLOG_CHANNEL, {"guild_id": guild_id}, shape)


def due_expiries(
    now: datetime,
    *,
    shard_id: int = 0,
    shard_count: int = 1,
    after: tuple[datetime, int] = (BEFORE_ANY_EXPIRY, 0),
    limit: int = 100,
) -> Query[list[Case]]:
    """Temporary bans whose time is up and that nobody lifted yet, soonest first, in guilds
    of one shard (by default the one shard of one: every guild), after ``after`` (the last
    row's ``(expires_at, id)`` of the page before)."""
    params = {
        "now": now,
        "shard_id": shard_id,
        "shard_count": shard_count,
        "after_at": after[0],
        "after_id": after[1],
        "limit": limit,
    }
    return Query(_DUE, params, _DUE_SHAPE.all)


def claim_expiry(case_id: int, *, now: datetime | None = None) -> Query[Case | None]:
    """Hold a due temporary ban for lifting, for ``EXPIRY_LEASE``; None if it is lifted,
    closed, or held by another process whose lease still runs."""
    moment = now or utcnow()
    params = {"case_id": case_id, "now": moment, "until": moment + EXPIRY_LEASE}
    return Query(_CLAIM, params, _CLAIM_SHAPE.one_or_none)


def mark_expiry_lifted(case_id: int) -> Query[Case | None]:
    """Discord lifted the ban: close the expiry; None if a later ban or unban closed it."""
    return Query(_LIFTED, {"case_id": case_id, "now": utcnow()}, _LIFTED_SHAPE.one_or_none)


def cancel_expiries(guild_id: int, target_id: int) -> Query[list[int]]:
    """Close the pending expiries of a member's earlier bans; the numbers closed."""
    params = {"guild_id": guild_id, "target_id": target_id, "now": utcnow()}
    return Query(_CANCEL, params, lambda found: [int(n) for n in scalars(found)])


def release_expiry(case_id: int) -> Query[bool]:
    """Give a claimed expiry back at once (lifting it failed; it will be tried again)."""
    return Query(_RELEASE, {"case_id": case_id}, bool)


_ALL_VISIBLE = Statement(
    select(Case)
    .where(
        Case.guild_id == bindparam("guild_id"),
        Case.target_id == bindparam("target_id"),
        Case.kind != CaseKind.NOTE.value,
    )
    .order_by(Case.number),
    name="all_member_visible_cases",
)
_ALL_VISIBLE_SHAPE = ModelShape(Case, _ALL_VISIBLE)


def all_visible_cases(guild_id: int, target_id: int) -> Query[list[Case]]:
    """Every case a member may see about themselves (no notes), oldest first."""
    return Query(
        _ALL_VISIBLE, {"guild_id": guild_id, "target_id": target_id}, _ALL_VISIBLE_SHAPE.all
    )
