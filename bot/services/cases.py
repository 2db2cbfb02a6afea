"""Moderation cases: recording them under the guild's next number, showing, amending, and
the temporary bans that expire.

Each function opens one unit of work. Recording a case takes the guild's next number and
writes the case in one write unit (a ban or unban also closes the member's earlier pending
expiries there), so a case exists only once its action succeeded and was recorded whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.db import Database, Unit
from bot.db import cases as queries
from bot.db.models import Case, CaseAmendment, CaseKind
from bot.errors import NotAllowed

CASES_PER_PAGE = 5
DUE_PAGE = 100


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case in full: the case and its earlier reasons, oldest first."""

    case: Case
    amendments: list[CaseAmendment]


async def record(
    db: Database,
    guild_id: int,
    kind: CaseKind,
    *,
    target_id: int,
    moderator_id: int | None,
    reason: str | None,
    expires_at: datetime | None = None,
) -> Case:
    """Record a case under the guild's next number."""
    async with db.write() as unit:
        return await record_in(
            unit,
            guild_id,
            kind,
            target_id=target_id,
            moderator_id=moderator_id,
            reason=reason,
            expires_at=expires_at,
        )


async def record_in(
    unit: Unit,
    guild_id: int,
    kind: CaseKind,
    *,
    target_id: int,
    moderator_id: int | None,
    reason: str | None,
    expires_at: datetime | None = None,
) -> Case:
    """Record a case inside a write unit the caller holds (with the change it records)."""
    if kind in (CaseKind.BAN, CaseKind.UNBAN):
        # A later ban or an unban replaces whatever expiry an earlier ban had.
        await unit.run(queries.cancel_expiries(guild_id, target_id))
    number = await unit.run(queries.next_case_number(guild_id))
    return await unit.run(
        queries.add_case(
            guild_id,
            number,
            kind,
            target_id=target_id,
            moderator_id=moderator_id,
            reason=reason,
            expires_at=expires_at,
        )
    )


async def history(
    db: Database,
    guild_id: int,
    target_id: int,
    *,
    before: int | None = None,
    member_view: bool = False,
) -> list[Case]:
    """One page of a member's cases, newest first (one more than a page: more follow)."""
    return await db.read_one(
        queries.list_cases(
            guild_id,
            target_id,
            before=before,
            limit=CASES_PER_PAGE + 1,
            member_view=member_view,
        )
    )


async def case(db: Database, guild_id: int, number: int) -> CaseRecord:
    """A case with its amendments, read in one snapshot; raises CaseNotFound."""
    async with db.read() as unit:
        found = await unit.run(queries.get_case(guild_id, number))
        amendments = await unit.run(queries.list_amendments(guild_id, number))
    return CaseRecord(found, amendments)


async def amend(
    db: Database,
    guild_id: int,
    number: int,
    reason: str,
    moderator_id: int,
    *,
    manages_server: bool,
) -> Case:
    """Replace a case's reason, keeping the old one; only its moderator or a manager may."""
    async with db.write() as unit:
        current = await unit.run(queries.get_case(guild_id, number))
        if current.moderator_id != moderator_id and not manages_server:
            raise NotAllowed(
                "Only the moderator who made this case, or someone with Manage Server, "
                "can change its reason."
            )
        await unit.run(queries.keep_reason(guild_id, number, moderator_id))
        return await unit.run(queries.set_reason(guild_id, number, reason))


async def logged(
    db: Database, guild_id: int, number: int, channel_id: int, message_id: int
) -> None:
    """Remember the mod-log message of a case."""
    await db.write_one(queries.set_modlog_message(guild_id, number, channel_id, message_id))


async def modlog_channel(db: Database, guild_id: int) -> int | None:
    return await db.read_one(queries.get_modlog_channel(guild_id))


async def set_modlog_channel(db: Database, guild_id: int, channel_id: int | None) -> None:
    await db.write_one(queries.set_modlog_channel(guild_id, channel_id))


async def due_expiries(
    db: Database,
    now: datetime,
    *,
    shard_count: int = 1,
    shard_ids: Iterable[int] | None = None,
    page: int = DUE_PAGE,
) -> list[Case]:
    """Every temporary ban due to be lifted in the guilds of these shards (None: all of
    them), soonest first.

    Read in keyset pages to the end, so however many due bans cannot be lifted at the moment
    (a guild the bot left, a missing permission), none hides the ones behind it.
    """
    ids = sorted(set(shard_ids)) if shard_ids is not None else None
    # All of them at once is the one shard of one; otherwise each shard's guilds in turn.
    scopes = [(0, 1)] if ids is None or len(ids) >= shard_count else [(i, shard_count) for i in ids]
    found: list[Case] = []
    for shard_id, count in scopes:
        after = (queries.BEFORE_ANY_EXPIRY, 0)
        while True:
            batch = await db.read_one(
                queries.due_expiries(
                    now, shard_id=shard_id, shard_count=count, after=after, limit=page
                )
            )
            found.extend(batch)
            if len(batch) < page:
                break
            last = batch[-1]
            assert last.expires_at is not None
            after = (last.expires_at, last.id)
    found.sort(key=lambda case: (case.expires_at, case.id))
    return found


async def claim_expiry(db: Database, case_id: int) -> Case | None:
    """Hold a due expiry while lifting it; None if it is lifted, closed or held elsewhere.

    The hold is a lease (``EXPIRY_LEASE``): a process that dies before Discord answers, or
    cannot write the release, only delays the lifting until the lease runs out."""
    return await db.write_one(queries.claim_expiry(case_id))


async def mark_expiry_lifted(db: Database, case_id: int) -> Case | None:
    """Record that Discord lifted the ban; None if a later ban or unban closed it meanwhile."""
    return await db.write_one(queries.mark_expiry_lifted(case_id))


async def release_expiry(db: Database, case_id: int) -> None:
    """Give back a claimed expiry whose lifting failed, so it is tried again."""
    await db.write_one(queries.release_expiry(case_id))
