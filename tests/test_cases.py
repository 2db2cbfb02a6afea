"""Moderation cases in the data layer and services: numbering under contention, guild
isolation, history pages, amendments, and temporary-ban expiries claimed exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.db import Database
from bot.db.models import CaseKind
from bot.db.types import utcnow
from bot.errors import CaseNotFound, NotAllowed
from bot.services import cases

GUILD = 111_000_000_000_000_001
OTHER_GUILD = 222_000_000_000_000_002
TARGET = 300_000_000_000_000_001
MOD = 400_000_000_000_000_001


async def _warn(
    db: Database, guild: int = GUILD, target: int = TARGET, moderator: int = MOD
) -> int:
    case = await cases.record(
        db, guild, CaseKind.WARN, target_id=target, moderator_id=moderator, reason="spam"
    )
    return case.number


async def test_twenty_moderators_at_once_get_cases_one_to_twenty(db: Database) -> None:
    numbers = await asyncio.gather(*(_warn(db, moderator=MOD + i) for i in range(20)))
    assert sorted(numbers) == list(range(1, 21))
    # Another guild counts on its own, even while this one is busy.
    others = await asyncio.gather(
        *(_warn(db, guild=OTHER_GUILD) for _ in range(5)), *(_warn(db) for _ in range(5))
    )
    assert sorted(others[:5]) == [1, 2, 3, 4, 5]
    assert sorted(others[5:]) == list(range(21, 26))


async def test_a_case_is_found_only_in_its_own_guild(db: Database) -> None:
    number = await _warn(db)
    found = await cases.case(db, GUILD, number)
    assert (found.case.kind, found.case.reason, found.amendments) == ("warn", "spam", [])
    assert found.case.to_dict()["created_at"].tzinfo is not None
    with pytest.raises(CaseNotFound):
        await cases.case(db, OTHER_GUILD, number)
    with pytest.raises(CaseNotFound):
        await cases.case(db, GUILD, number + 1)


async def test_history_pages_newest_first_and_members_never_see_notes(db: Database) -> None:
    kinds = [CaseKind.WARN, CaseKind.NOTE, CaseKind.TIMEOUT, CaseKind.NOTE, CaseKind.KICK] * 3
    for kind in kinds:
        await cases.record(db, GUILD, kind, target_id=TARGET, moderator_id=MOD, reason="r")
    await _warn(db, target=TARGET + 1)  # someone else's
    first = await cases.history(db, GUILD, TARGET)
    assert [c.number for c in first] == [15, 14, 13, 12, 11, 10]  # a page plus one
    second = await cases.history(db, GUILD, TARGET, before=first[cases.CASES_PER_PAGE - 1].number)
    assert [c.number for c in second] == [10, 9, 8, 7, 6, 5]
    visible = await cases.history(db, GUILD, TARGET, member_view=True)
    assert CaseKind.NOTE not in {c.kind for c in visible}
    assert [c.number for c in visible] == [15, 13, 11, 10, 8, 6]
    assert await cases.history(db, OTHER_GUILD, TARGET) == []


async def test_amending_keeps_the_old_reason_and_only_the_author_or_a_manager_may(
    db: Database,
) -> None:
    number = await _warn(db)
    with pytest.raises(NotAllowed):
        await cases.amend(db, GUILD, number, "other", MOD + 1, manages_server=False)
    assert (await cases.case(db, GUILD, number)).case.reason == "spam"
    await cases.amend(db, GUILD, number, "spam, twice", MOD, manages_server=False)
    await cases.amend(db, GUILD, number, "spam, three times", MOD + 1, manages_server=True)
    found = await cases.case(db, GUILD, number)
    assert found.case.reason == "spam, three times"
    assert [(a.previous_reason, a.moderator_id) for a in found.amendments] == [
        ("spam", MOD),
        ("spam, twice", MOD + 1),
    ]
    with pytest.raises(CaseNotFound):
        await cases.amend(db, OTHER_GUILD, number, "x", MOD, manages_server=True)


async def test_a_due_expiry_is_claimed_exactly_once(db: Database) -> None:
    past = utcnow() - timedelta(seconds=1)
    ban = await cases.record(
        db, GUILD, CaseKind.BAN, target_id=TARGET, moderator_id=MOD, reason="r", expires_at=past
    )
    later = await cases.record(
        db,
        GUILD,
        CaseKind.BAN,
        target_id=TARGET + 1,
        moderator_id=MOD,
        reason="r",
        expires_at=utcnow() + timedelta(days=1),
    )
    due = await cases.due_expiries(db, utcnow())
    assert [c.number for c in due] == [ban.number]
    claims = await asyncio.gather(*(cases.claim_expiry(db, ban.id) for _ in range(10)))
    assert sum(c is not None for c in claims) == 1
    assert await cases.due_expiries(db, utcnow()) == []
    assert [c.number for c in await cases.due_expiries(db, utcnow() + timedelta(days=2))] == [
        later.number
    ]


async def test_a_later_ban_or_an_unban_cancels_a_pending_expiry(db: Database) -> None:
    soon = utcnow() + timedelta(hours=1)
    for closing in (CaseKind.BAN, CaseKind.UNBAN):
        await cases.record(
            db, GUILD, CaseKind.BAN, target_id=TARGET, moderator_id=MOD, reason="r", expires_at=soon
        )
        assert len(await cases.due_expiries(db, soon)) == 1
        await cases.record(db, GUILD, closing, target_id=TARGET, moderator_id=MOD, reason="r")
        assert await cases.due_expiries(db, soon + timedelta(days=400)) == []


async def test_the_modlog_channel_is_set_cleared_and_per_guild(db: Database) -> None:
    assert await cases.modlog_channel(db, GUILD) is None
    await cases.set_modlog_channel(db, GUILD, 555)
    await _warn(db)  # the counter shares the row: neither disturbs the other
    assert await cases.modlog_channel(db, GUILD) == 555
    assert await cases.modlog_channel(db, OTHER_GUILD) is None
    await cases.set_modlog_channel(db, GUILD, None)
    assert await cases.modlog_channel(db, GUILD) is None
    assert await _warn(db) == 2
