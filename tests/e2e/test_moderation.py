"""Moderation, end to end on both databases: /mod, /config and /mycases through the real bot,
with what reached Discord (the action, the audit-log reason, the DM before a removal) and
what the database kept (the cases)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.client import Bulletin
from bot.db.models import Case, CaseKind
from bot.db.types import utcnow
from bot.services import cases
from sandbox import Emulator, MemberDriver
from sandbox.permissions import Permission
from tests.e2e.conftest import BotRunner

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _guild_id(emulator: Emulator, guild: str = "alpha") -> int:
    return emulator.guild(guild).id


async def _cases_of(
    bot: Bulletin, emulator: Emulator, name: str, guild: str = "alpha"
) -> list[Case]:
    return await cases.history(bot.db, _guild_id(emulator, guild), emulator.user(name).id)


async def _closed_once_lifted(bot: Bulletin, emulator: Emulator, name: str) -> Case:
    """The member's one case, once Discord's answer to the unban is recorded (the expiry
    closes after the call, so it is never marked lifted while the ban still stands)."""
    async with asyncio.timeout(10):
        while True:
            [case] = await _cases_of(bot, emulator, name)
            if case.lifted_at is not None:
                return case
            await asyncio.sleep(0.05)


def _requests(emulator: Emulator, method: str, fragment: str) -> list[Any]:
    return [r for r in emulator.requests if r.method == method and fragment in r.path]


async def test_warn_records_a_case_and_tells_the_member_by_dm(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    moderator = emulator.member("moderator")
    reply = await moderator.run("/mod warn", member="alice", reason="Please keep it civil")
    assert reply.ephemeral
    assert "Case #1" in reply.text
    assert "warned" in reply.text
    [case] = await _cases_of(bulletin, emulator, "alice")
    assert (case.number, case.kind, case.reason) == (1, "warn", "Please keep it civil")
    assert case.moderator_id == moderator.user.id
    [dm] = emulator.dms("alice")
    assert "Please keep it civil" in str(dm.payload())


async def test_a_note_is_never_shown_to_the_member(bulletin: Bulletin, emulator: Emulator) -> None:
    moderator = emulator.member("moderator")
    await moderator.run("/mod note", member="alice", text="watch this one")
    await moderator.run("/mod warn", member="alice", reason="spam")
    assert len(emulator.dms("alice")) == 1  # the warning only
    mine = await emulator.member("alice").run("/mycases")
    assert mine.ephemeral
    assert "Warning" in mine.text
    assert "watch this one" not in mine.text
    assert "Note" not in mine.text
    assert str(moderator.user.id) not in mine.text  # never the moderator
    theirs = await moderator.run("/mod cases", member="alice")
    assert "watch this one" in theirs.text


async def test_timeout_and_untimeout_reach_discord_with_the_audit_reason(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    moderator = emulator.member("moderator")
    reply = await moderator.run("/mod timeout", member="alice", duration="10m", reason="cool off")
    assert "Case #1" in reply.text
    [patch] = _requests(emulator, "PATCH", f"/members/{emulator.member('alice').user.id}")
    assert patch.reason == f"moderator ({moderator.user.id}): cool off"
    assert patch.body["communication_disabled_until"] is not None
    lifted = await moderator.run("/mod untimeout", member="alice")
    assert "Case #2" in lifted.text
    again = await moderator.run("/mod untimeout", member="alice")
    assert "not timed out" in again.text
    assert [c.kind for c in await _cases_of(bulletin, emulator, "alice")] == [
        "untimeout",
        "timeout",
    ]


@pytest.mark.parametrize(
    ("duration", "why"),
    [("29d", "at most 4w"), ("soon", "not a duration"), ("0s", "more than zero")],
)
async def test_a_bad_timeout_duration_is_explained(
    bulletin: Bulletin, emulator: Emulator, duration: str, why: str
) -> None:
    reply = await emulator.member("moderator").run(
        "/mod timeout", member="alice", duration=duration, reason="x"
    )
    assert why in reply.text
    assert _requests(emulator, "PATCH", "/members/") == []
    assert await _cases_of(bulletin, emulator, "alice") == []


async def test_28_days_is_accepted(bulletin: Bulletin, emulator: Emulator) -> None:
    reply = await emulator.member("moderator").run(
        "/mod timeout", member="alice", duration="28d", reason="long"
    )
    assert "Case #1" in reply.text


async def test_kick_tells_the_member_first_then_kicks(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = emulator.member("alice").user
    reply = await emulator.member("moderator").run("/mod kick", member="alice", reason="rules")
    assert "Case #1" in reply.text
    order = [
        (r.method, r.path)
        for r in emulator.requests
        if (r.method == "POST" and "/messages" in r.path and "/channels/" in r.path)
        or (r.method == "DELETE" and f"/members/{alice.id}" in r.path)
    ]
    assert [m for m, _ in order] == ["POST", "DELETE"]
    assert emulator.guild("alpha").find_member(alice.id) is None


async def test_closed_dms_are_said_and_the_action_still_happens(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    emulator.user("alice").dms_open = False
    reply = await emulator.member("moderator").run("/mod kick", member="alice", reason="rules")
    assert "Case #1" in reply.text
    assert "could not be told by DM" in reply.text


async def test_ban_then_unban_make_exactly_two_cases(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    moderator = emulator.member("moderator")
    banned = await moderator.run("/mod ban", member="alice", reason="raid", delete_message_days=1)
    assert "Case #1" in banned.text
    assert [b.user.username for b in emulator.bans()] == ["alice"]
    [put] = _requests(emulator, "PUT", "/bans/")
    assert put.reason == f"moderator ({moderator.user.id}): raid"
    unbanned = await moderator.run("/mod unban", user="alice", reason="appeal")
    assert "Case #2" in unbanned.text
    assert emulator.bans() == []
    await emulator.wait_until(lambda: True, timeout=0.3)  # let any ban event arrive
    assert [c.kind for c in await _cases_of(bulletin, emulator, "alice")] == ["unban", "ban"]


async def test_a_ban_works_on_someone_who_already_left(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    await emulator.leave("alice")
    reply = await emulator.member("moderator").run("/mod ban", member="alice", reason="evasion")
    assert "Case #1" in reply.text
    assert [b.user.username for b in emulator.bans()] == ["alice"]
    # Not in the server: no DM was due.
    assert emulator.dms("alice") == []


async def test_a_ban_made_in_discords_menu_becomes_one_case_with_no_moderator(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    await emulator.ban("alice", by="owner", reason="from the menu")
    alice = emulator.user("alice").id

    async def recorded() -> list[Case]:
        return await cases.history(bulletin.db, _guild_id(emulator), alice)

    for _ in range(100):
        if await recorded():
            break
        await asyncio.sleep(0.02)
    [case] = await recorded()
    assert (case.kind, case.moderator_id) == ("ban", None)


REFUSALS = [
    ("moderator", "/mod warn", {"member": "moderator", "reason": "x"}, "yourself"),
    ("moderator", "/mod warn", {"member": "owner", "reason": "x"}, "owner"),
    ("moderator", "/mod warn", {"member": "Bulletin", "reason": "x"}, "myself"),
    ("moderator", "/mod warn", {"member": "admin", "reason": "x"}, "highest role"),
    ("moderator", "/mod kick", {"member": "admin", "reason": "x"}, "highest role"),
    (
        "owner",
        "/mod timeout",
        {"member": "admin", "duration": "1m", "reason": "x"},
        "administrator",
    ),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[f"{r[1]}-{r[2]['member']}" for r in REFUSALS])
async def test_refusals_change_nothing(
    bulletin: Bulletin, emulator: Emulator, refusal: tuple[str, str, dict[str, Any], str]
) -> None:
    who, command, options, why = refusal
    reply = await emulator.member(who).run(command, **options)
    assert reply.ephemeral
    assert why in reply.text
    target = options["member"]
    assert await _cases_of(bulletin, emulator, target) == []
    assert emulator.dms(target) == []
    assert emulator.audit_log() == []


async def test_a_member_without_the_permission_is_refused_even_if_the_command_reaches_them(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    # An admin could loosen /mod in the server settings; the hint is not the check.
    reply = await emulator.member("alice").run("/mod warn", member="bob", reason="x", force=True)
    assert "Moderate Members" in reply.text
    assert await _cases_of(bulletin, emulator, "bob") == []


async def test_a_channel_overwrite_grants_no_moderation(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    await emulator.set_overwrite("general", "alice", allow=int(Permission.MODERATE_MEMBERS))
    reply = await emulator.member("alice").run("/mod warn", member="bob", reason="x", force=True)
    assert "Moderate Members" in reply.text
    assert await _cases_of(bulletin, emulator, "bob") == []


async def test_the_bot_says_which_permission_it_lacks(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    everything = int(emulator.guild("alpha").role("Bulletin").permissions)
    await emulator.edit_role("Bulletin", permissions=everything & ~int(Permission.KICK_MEMBERS))
    reply = await emulator.member("moderator").run("/mod kick", member="alice", reason="x")
    assert "I need the Kick Members permission" in reply.text
    assert emulator.guild("alpha").find_member(emulator.member("alice").user.id) is not None
    assert emulator.dms("alice") == []


async def test_the_owner_with_no_roles_can_kick(bulletin: Bulletin, emulator: Emulator) -> None:
    reply = await emulator.member("owner").run("/mod kick", member="bob", reason="x")
    assert "Case #1" in reply.text


async def test_twenty_moderators_at_once_make_cases_one_to_twenty(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    moderators: list[MemberDriver] = []
    for i in range(20):
        user = emulator.add_user(f"mod{i}")
        await emulator.join(user.id, "alpha", roles=["Moderator"])
        moderators.append(emulator.member(f"mod{i}"))
    replies = await asyncio.gather(
        *(m.run("/mod warn", member="alice", reason=f"from {i}") for i, m in enumerate(moderators))
    )
    numbers = sorted(int(r.text.split("Case #")[1].split(":")[0]) for r in replies)
    assert numbers == list(range(1, 21))
    assert (
        len(await cases.history(bulletin.db, _guild_id(emulator), emulator.member("alice").user.id))
        == 6
    )


async def test_case_numbers_and_cases_belong_to_their_guild(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    await emulator.member("moderator").run("/mod warn", member="alice", reason="in alpha")
    other = emulator.member("moderator", "beta")
    reply = await other.run("/mod case", number=1)
    assert "There is no case #1" in reply.text
    first_in_beta = await other.run("/mod warn", member="erin", reason="in beta")
    assert "Case #1" in first_in_beta.text


async def test_the_modlog_gets_each_case_and_reason_edits_it(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    owner, moderator = emulator.member("owner"), emulator.member("moderator")
    set_up = await owner.run("/config modlog", channel="mod-log")
    assert "mod-log" in set_up.text or "Cases will be posted" in set_up.text
    await moderator.run("/mod warn", member="alice", reason="first reason")
    posts = _requests(
        emulator, "POST", f"/channels/{emulator.guild('alpha').channel('mod-log').id}/messages"
    )
    assert len(posts) == 1
    assert "first reason" in str(posts[0].body)
    amended = await moderator.run("/mod reason", number=1, text="better reason")
    assert "changed" in amended.text
    edits = _requests(
        emulator, "PATCH", f"/channels/{emulator.guild('alpha').channel('mod-log').id}/messages"
    )
    assert len(edits) == 1
    assert "better reason" in str(edits[0].body)
    full = await moderator.run("/mod case", number=1)
    assert "better reason" in full.text
    assert "first reason" in full.text  # kept as an earlier reason
    await owner.run("/config modlog")  # off
    await moderator.run("/mod warn", member="bob", reason="unlogged")
    assert (
        len(
            _requests(
                emulator,
                "POST",
                f"/channels/{emulator.guild('alpha').channel('mod-log').id}/messages",
            )
        )
        == 1
    )


async def test_a_deleted_modlog_channel_loses_no_case(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    await emulator.member("owner").run("/config modlog", channel="mod-log")
    await emulator.delete_channel("mod-log")
    reply = await emulator.member("moderator").run("/mod warn", member="alice", reason="x")
    assert "Case #1" in reply.text
    assert len(await _cases_of(bulletin, emulator, "alice")) == 1


async def test_an_unwritable_modlog_channel_is_refused_at_set_up(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    await emulator.set_overwrite("general", "Bulletin", deny=int(Permission.SEND_MESSAGES))
    reply = await emulator.member("owner").run("/config modlog", channel="general")
    assert "I can't post in" in reply.text
    check = await emulator.member("owner").run("/config check")
    assert "No mod-log channel" in check.text


async def test_only_the_cases_moderator_or_a_manager_may_amend(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    user = emulator.add_user("mod2")
    await emulator.join(user.id, "alpha", roles=["Moderator"])
    await emulator.member("moderator").run("/mod warn", member="alice", reason="mine")
    refused = await emulator.member("mod2").run("/mod reason", number=1, text="theirs")
    assert "Only the moderator who made this case" in refused.text
    allowed = await emulator.member("admin").run("/mod reason", number=1, text="admin's")
    assert "changed" in allowed.text


@pytest.mark.parametrize("restart", [False, True])
async def test_a_temporary_ban_is_lifted_when_due(
    runner: BotRunner, emulator: Emulator, restart: bool
) -> None:
    bot = await runner.start(tempban_check_seconds=0.2)
    reply = await emulator.member("moderator").run(
        "/mod ban", member="alice", reason="cool off", duration="2s"
    )
    assert "Case #1" in reply.text
    assert [b.user.username for b in emulator.bans()] == ["alice"]
    if restart:
        await runner.stop(bot)
        await asyncio.sleep(2.2)  # due while no bot runs
        bot = await runner.start(tempban_check_seconds=0.2)
    await emulator.wait_until(lambda: emulator.bans() == [], timeout=10)
    case = await _closed_once_lifted(bot, emulator, "alice")
    assert case.kind == "ban"
    [unban] = _requests(emulator, "DELETE", "/bans/")
    assert "Temporary ban ended (case #1)" in (unban.reason or "")


async def test_temporary_bans_are_lifted_by_the_process_whose_shard_owns_the_guild(
    runner: BotRunner, emulator: Emulator
) -> None:
    """A process running shard 0 of 2 lifts alpha's bans however many of beta's (shard 1, run
    by another process that is down) fell due before them, and never touches beta's."""
    bot = await runner.start(shard_count=2, shard_ids=(0,), tempban_check_seconds=0.2)
    beta = _guild_id(emulator, "beta")
    for n in range(150):
        await cases.record(
            bot.db,
            beta,
            CaseKind.BAN,
            target_id=900_000_000_000_000_000 + n,
            moderator_id=None,
            reason=None,
            expires_at=utcnow() - timedelta(hours=1),
        )
    reply = await emulator.member("moderator").run(
        "/mod ban", member="alice", reason="cool off", duration="1s"
    )
    assert "Case #1" in reply.text
    await emulator.wait_until(lambda: emulator.bans() == [], timeout=10)
    await _closed_once_lifted(bot, emulator, "alice")
    assert [r.path for r in _requests(emulator, "DELETE", f"/guilds/{beta}/")] == []
    pending = await cases.due_expiries(bot.db, utcnow(), shard_count=2, shard_ids=[1])
    assert len(pending) == 150
