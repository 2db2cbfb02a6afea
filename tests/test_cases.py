"""Moderation cases in the data layer and services: numbering under contention, guild
isolation, history pages, amendments, and temporary-ban expiries claimed exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.db import Database
from bot.db import cases as case_queries
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
    assert await cases.due_expiries(db, utcnow()) == []  # held while it is being lifted
    await cases.mark_expiry_lifted(db, ban.id)
    assert [c.number for c in await cases.due_expiries(db, utcnow() + timedelta(days=2))] == [
        later.number
    ]


async def test_a_claim_is_a_lease_that_runs_out_if_its_holder_never_answers(
    db: Database,
) -> None:
    ban = await cases.record(
        db,
        GUILD,
        CaseKind.BAN,
        target_id=TARGET,
        moderator_id=MOD,
        reason="r",
        expires_at=utcnow() - timedelta(seconds=1),
    )
    now = utcnow()
    assert await db.write_one(case_queries.claim_expiry(ban.id, now=now)) is not None
    # The holder dies before Discord answers. Within the lease nobody else takes it...
    within = now + case_queries.EXPIRY_LEASE - timedelta(seconds=1)
    assert await cases.due_expiries(db, within) == []
    assert await db.write_one(case_queries.claim_expiry(ban.id, now=within)) is None
    # ...after it, the ban is due again and one process claims it.
    after = now + case_queries.EXPIRY_LEASE + timedelta(seconds=1)
    assert [c.id for c in await cases.due_expiries(db, after)] == [ban.id]
    claims = await asyncio.gather(
        *(db.write_one(case_queries.claim_expiry(ban.id, now=after)) for _ in range(5))
    )
    assert sum(c is not None for c in claims) == 1
    # A failed lifting gives it back at once; a done one closes it for good.
    await cases.release_expiry(db, ban.id)
    assert [c.id for c in await cases.due_expiries(db, after)] == [ban.id]
    lifted = await cases.mark_expiry_lifted(db, ban.id)
    assert lifted is not None
    assert lifted.lifted_at is not None
    assert await cases.due_expiries(db, after + timedelta(days=1)) == []
    assert await cases.mark_expiry_lifted(db, ban.id) is None  # closed once


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


def _guild_on_shard(shard: int, count: int, n: int = 1) -> int:
    """A guild id that Discord puts on ``shard`` of ``count``: (id >> 22) % count."""
    return ((1_000 * count + shard + n * count) << 22) | n


async def _due_ban(db: Database, guild: int, target: int, hours_ago: float) -> int:
    case = await cases.record(
        db,
        guild,
        CaseKind.BAN,
        target_id=target,
        moderator_id=MOD,
        reason="r",
        expires_at=utcnow() - timedelta(hours=hours_ago),
    )
    return case.id


async def test_due_expiries_of_a_shards_guilds_only(db: Database) -> None:
    on_zero = _guild_on_shard(0, 3)
    on_one, on_two = _guild_on_shard(1, 3), _guild_on_shard(2, 3)
    ids = {g: await _due_ban(db, g, TARGET, 1) for g in (on_zero, on_one, on_two)}

    async def due(shards: list[int] | None, count: int = 3) -> set[int]:
        found = await cases.due_expiries(db, utcnow(), shard_count=count, shard_ids=shards)
        return {c.guild_id for c in found}

    assert await due([0]) == {on_zero}
    assert await due([1, 2]) == {on_one, on_two}
    assert await due([0, 1, 2]) == await due(None) == set(ids)
    assert await due(None, count=1) == set(ids)


async def test_every_due_expiry_is_read_however_many_come_first(db: Database) -> None:
    """Pages of 100 to the end: bans the bot cannot lift now never hide the later ones."""
    guild = _guild_on_shard(1, 2)
    for n in range(230):
        await _due_ban(db, guild, TARGET + n, hours_ago=2 + n / 1000)
    latest = await _due_ban(db, guild, TARGET - 1, hours_ago=1)
    found = await cases.due_expiries(db, utcnow(), shard_count=2, shard_ids=[1], page=100)
    assert len(found) == 231
    assert found[-1].id == latest
    stamps = [c.expires_at for c in found if c.expires_at is not None]
    assert len(stamps) == 231
    assert stamps == sorted(stamps)
    assert await cases.due_expiries(db, utcnow(), shard_count=2, shard_ids=[0]) == []


async def test_due_expiries_at_the_same_moment_are_all_read_across_pages(db: Database) -> None:
    guild = _guild_on_shard(0, 1)
    moment = utcnow() - timedelta(hours=1)
    for n in range(150):
        await cases.record(
            db,
            guild,
            CaseKind.BAN,
            target_id=TARGET + n,
            moderator_id=MOD,
            reason="r",
            expires_at=moment,
        )
    found = await cases.due_expiries(db, utcnow(), page=100)
    assert len({c.id for c in found}) == 150
