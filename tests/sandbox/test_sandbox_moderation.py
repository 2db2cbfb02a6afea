"""Moderation on the emulator, driven by real discord.py calls: timeouts, kicks, bans, the
audit-log reason, and the gateway events each sends (or not, without the intent)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import discord
import pytest

from sandbox import DriverError, Emulator, MissingPermissionsError, Permission, default_world
from sandbox.gateway import GUILD_MEMBERS
from tests.sandbox.sandbox_testbot import BotFactory, SandboxBot

# The application has the privileged GUILD_MEMBERS intent enabled (a fresh one has none).
MEMBERS_ENABLED = pytest.mark.sandbox_emulator(privileged_intents=GUILD_MEMBERS)
REASON = "Spam / «links» 100% ✓ + more\nsecond line"


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a wait budget
    """Poll something the bot's own tasks change (the emulator cannot wake us for it)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the bot's state has no event to wait on
            await asyncio.sleep(0.01)


def alpha(bot: SandboxBot, emu: Emulator) -> discord.Guild:
    guild = bot.get_guild(emu.guild("alpha").id)
    assert guild is not None
    return guild


async def member(bot: SandboxBot, emu: Emulator, name: str) -> discord.Member:
    return await alpha(bot, emu).fetch_member(emu.user(name).id)


def events(emu: Emulator, name: str) -> list[dict[str, object]]:
    return [f.d for f in emu.frames if f.t == name]


def with_members() -> discord.Intents:
    intents = discord.Intents.default()
    intents.members = True
    return intents


# timeouts


async def test_timeout_and_lift_with_the_reason(emu: Emulator, bot: SandboxBot) -> None:
    alice = await member(bot, emu, "alice")
    await alice.timeout(timedelta(minutes=5), reason=REASON)
    world_alice = emu.guild("alpha").member("alice")
    until = world_alice.communication_disabled_until
    assert until is not None
    assert timedelta(minutes=4) < until - datetime.now(UTC) <= timedelta(minutes=5)
    assert (await member(bot, emu, "alice")).timed_out_until == until
    [entry] = emu.audit_log("alpha")
    assert (entry.action, entry.action_type, entry.target_id) == ("MEMBER_UPDATE", 24, alice.id)
    assert (entry.user_id, entry.reason) == (emu.world.bot.id, REASON)
    [patch] = [r for r in emu.requests if r.method == "PATCH"]
    assert (patch.reason, patch.body) == (
        REASON,
        {"communication_disabled_until": until.isoformat()},
    )
    # GUILD_MEMBER_UPDATE needs the privileged GUILD_MEMBERS intent, which this bot lacks.
    assert events(emu, "GUILD_MEMBER_UPDATE") == []

    await alice.timeout(None)
    assert world_alice.communication_disabled_until is None
    assert emu.audit_log("alpha")[-1].reason is None
    assert emu.violations == []


@MEMBERS_ENABLED
async def test_timeout_sends_member_update_with_the_members_intent(
    emu: Emulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(intents=with_members())
    alice = await member(bot, emu, "alice")
    await alice.timeout(timedelta(minutes=1))
    [update] = events(emu, "GUILD_MEMBER_UPDATE")
    assert update["user"]["id"] == str(alice.id)  # type: ignore[index]
    assert update["communication_disabled_until"] is not None
    assert update["guild_id"] == str(emu.guild("alpha").id)


async def test_timeout_refusals(emu: Emulator, bot: SandboxBot) -> None:
    for name in ("owner", "admin"):
        target = await member(bot, emu, name)
        with pytest.raises(discord.Forbidden) as refused:
            await target.timeout(timedelta(minutes=1))
        assert refused.value.code == 50013

    # 28 days is the most Discord allows; a moment past it is a form error.
    alice = await member(bot, emu, "alice")
    await alice.timeout(timedelta(days=28) - timedelta(seconds=5))
    with pytest.raises(discord.HTTPException) as too_long:
        await alice.timeout(timedelta(days=28, minutes=1))
    assert too_long.value.code == 50035
    assert emu.violations[-1].paths == ("communication_disabled_until",)

    # Without Moderate Members, nothing.
    bob = await member(bot, emu, "bob")
    await emu.edit_role(
        "Bulletin",
        permissions=emu.guild("alpha").role("Bulletin").permissions & ~Permission.MODERATE_MEMBERS,
    )
    with pytest.raises(discord.Forbidden):
        await bob.timeout(timedelta(minutes=1))
    assert emu.guild("alpha").member("bob").communication_disabled_until is None
    assert [v.code for v in emu.violations] == [50013, 50013, 50035, 50013]


async def test_timeout_of_someone_who_left_is_an_ordinary_10007(
    emu: Emulator, bot: SandboxBot
) -> None:
    carol = await member(bot, emu, "carol")
    await emu.leave("carol")
    with pytest.raises(discord.NotFound) as gone:
        await carol.timeout(timedelta(minutes=1))
    assert gone.value.code == 10007
    assert emu.requests[-1].error_code == 10007
    assert emu.violations == []


# kicks


@MEMBERS_ENABLED
async def test_kick_removes_the_member(emu: Emulator, start_bot: BotFactory) -> None:
    bot = await start_bot(intents=with_members())
    bob = await member(bot, emu, "bob")
    driver = emu.member("bob")
    await bob.kick(reason="Kicked: " + REASON)
    assert emu.guild("alpha").find_member("bob") is None
    assert emu.user("bob").username == "bob"  # still a Discord user
    [entry] = emu.audit_log()
    assert (entry.action, entry.target_id, entry.reason) == (
        "MEMBER_KICK",
        bob.id,
        "Kicked: " + REASON,
    )
    [removed] = events(emu, "GUILD_MEMBER_REMOVE")
    assert removed["user"]["id"] == str(bob.id)  # type: ignore[index]
    await eventually(lambda: ("member_remove", bob.id) in bot.events)
    with pytest.raises(DriverError):
        await driver.run("/profile", name="Bob", age=30)
    with pytest.raises(LookupError):
        emu.member("bob")
    with pytest.raises(discord.NotFound) as again:
        await bob.kick()
    assert again.value.code == 10007
    assert emu.violations == []


async def test_kick_refusals(emu: Emulator, bot: SandboxBot) -> None:
    for name in ("owner", "admin"):
        target = await member(bot, emu, name)
        with pytest.raises(discord.Forbidden):
            await target.kick()
    dave = await member(bot, emu, "dave")
    role = emu.guild("alpha").role("Bulletin")
    await emu.edit_role("Bulletin", permissions=role.permissions & ~Permission.KICK_MEMBERS)
    with pytest.raises(discord.Forbidden):
        await dave.kick()
    assert emu.guild("alpha").find_member("dave") is not None
    assert [v.code for v in emu.violations] == [50013, 50013, 50013]
    assert [e.action for e in emu.audit_log()] == ["ROLE_UPDATE"]


# bans


async def test_ban_unban_and_their_events(emu: Emulator, bot: SandboxBot) -> None:
    guild = alpha(bot, emu)
    alice = emu.user("alice")
    await guild.ban(discord.Object(alice.id), reason=REASON, delete_message_seconds=3600)
    assert emu.guild("alpha").find_member("alice") is None
    record = emu.requests[-1]
    assert (record.method, record.status, record.query) == (
        "PUT",
        204,
        {"delete_message_seconds": "3600"},
    )
    [ban] = emu.bans("alpha")
    assert (ban.user.id, ban.reason) == (alice.id, REASON)
    [entry] = emu.audit_log()
    assert (entry.action, entry.reason, entry.options) == (
        "MEMBER_BAN_ADD",
        REASON,
        {"delete_message_seconds": 3600},
    )
    # Default intents include moderation; the privileged members intent is not.
    [added] = events(emu, "GUILD_BAN_ADD")
    assert added == {"guild_id": str(guild.id), "user": alice.payload()}
    assert events(emu, "GUILD_MEMBER_REMOVE") == []
    await eventually(lambda: ("member_ban", alice.id) in bot.events)

    entry_seen = await guild.fetch_ban(discord.Object(alice.id))
    assert (entry_seen.user.id, entry_seen.reason) == (alice.id, REASON)
    # A second ban is a quiet success that changes nothing.
    await guild.ban(discord.Object(alice.id), reason="again")
    assert len(emu.bans()) == 1
    assert len(events(emu, "GUILD_BAN_ADD")) == 1

    await guild.unban(discord.Object(alice.id), reason="appeal")
    assert emu.bans() == []
    assert len(events(emu, "GUILD_BAN_REMOVE")) == 1
    await eventually(lambda: ("member_unban", alice.id) in bot.events)
    with pytest.raises(discord.NotFound) as no_ban:
        await guild.unban(discord.Object(alice.id))
    assert no_ban.value.code == 10026
    with pytest.raises(discord.NotFound) as no_entry:
        await guild.fetch_ban(discord.Object(alice.id))
    assert no_entry.value.code == 10026
    assert [e.action for e in emu.audit_log()] == ["MEMBER_BAN_ADD", "MEMBER_BAN_REMOVE"]
    assert emu.violations == []


async def test_ban_events_need_the_moderation_intent(emu: Emulator, start_bot: BotFactory) -> None:
    intents = discord.Intents.default()
    intents.moderation = False
    bot = await start_bot(intents=intents)
    guild = alpha(bot, emu)
    bob = emu.user("bob")
    await guild.ban(discord.Object(bob.id))
    await guild.unban(discord.Object(bob.id))
    assert events(emu, "GUILD_BAN_ADD") == events(emu, "GUILD_BAN_REMOVE") == []
    assert [e.action for e in emu.audit_log()] == ["MEMBER_BAN_ADD", "MEMBER_BAN_REMOVE"]


@MEMBERS_ENABLED
async def test_ban_with_the_members_intent_also_removes_the_member(
    emu: Emulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(intents=with_members())
    carol = emu.user("carol")
    await alpha(bot, emu).ban(discord.Object(carol.id), delete_message_seconds=0)
    assert [e["user"]["id"] for e in events(emu, "GUILD_MEMBER_REMOVE")] == [str(carol.id)]  # type: ignore[index]
    assert len(events(emu, "GUILD_BAN_ADD")) == 1


async def test_ban_rules(emu: Emulator, bot: SandboxBot) -> None:
    guild = alpha(bot, emu)
    # Someone who is not a member can be banned: no hierarchy applies.
    erin = emu.user("erin")
    await guild.ban(discord.Object(erin.id))
    assert [b.user.username for b in emu.bans()] == ["erin"]
    assert events(emu, "GUILD_BAN_ADD")[0]["user"]["id"] == str(erin.id)  # type: ignore[index]
    # Somebody Discord does not know: 10013, an ordinary answer.
    with pytest.raises(discord.NotFound) as unknown:
        await guild.ban(discord.Object(123456789012345678))
    assert unknown.value.code == 10013
    assert emu.violations == []

    for name in ("owner", "admin"):
        with pytest.raises(discord.Forbidden):
            await guild.ban(discord.Object(emu.user(name).id))
    with pytest.raises(discord.HTTPException) as too_long:
        await guild.ban(discord.Object(emu.user("bob").id), delete_message_seconds=604_801)
    assert too_long.value.code == 50035
    assert emu.violations[-1].paths == ("delete_message_seconds",)
    await guild.ban(discord.Object(emu.user("bob").id), delete_message_seconds=604_800)

    role = emu.guild("alpha").role("Bulletin")
    await emu.edit_role("Bulletin", permissions=role.permissions & ~Permission.BAN_MEMBERS)
    with pytest.raises(discord.Forbidden):
        await guild.ban(discord.Object(emu.user("dave").id))
    with pytest.raises(discord.Forbidden):
        await guild.fetch_ban(discord.Object(erin.id))
    assert [v.code for v in emu.violations] == [50013, 50013, 50035, 50013, 50013]
    assert [b.user.username for b in emu.bans()] == ["erin", "bob"]


async def test_a_forgotten_user_is_unknown(emu: Emulator, bot: SandboxBot) -> None:
    dave = await emu.forget_user("dave")
    assert emu.guild("alpha").find_member(dave.id) is None
    with pytest.raises(discord.NotFound) as unknown:
        await alpha(bot, emu).ban(discord.Object(dave.id))
    assert unknown.value.code == 10013
    with pytest.raises(discord.NotFound):
        await bot.fetch_user(dave.id)


async def test_ban_list_pages(emu: Emulator, bot: SandboxBot, http: aiohttp.ClientSession) -> None:
    extra = [emu.add_user(f"spammer{n}") for n in range(5)]
    for user in extra:
        assert await emu.ban(user.username, by="moderator", reason=f"spam {user.username}")
    ids = sorted(u.id for u in extra)
    guild = alpha(bot, emu)
    assert [b.user.id async for b in guild.bans(limit=None)] == ids
    assert [b.user.id async for b in guild.bans(limit=2, after=discord.Object(ids[0]))] == ids[1:3]
    assert [b.user.id async for b in guild.bans(limit=2, before=discord.Object(ids[4]))] == ids[2:4]
    assert [b.reason async for b in guild.bans(limit=1)] == [f"spam {emu.user(ids[0]).username}"]

    url = f"{emu.api_url}/guilds/{guild.id}/bans"
    auth = {"Authorization": f"Bot {emu.token}"}
    for limit in ("0", "1001", "many"):
        async with http.get(url, params={"limit": limit}, headers=auth) as response:
            assert response.status == 400
            assert (await response.json())["errors"]["limit"]["_errors"][0]["code"].startswith(
                "NUMBER_TYPE"
            )
    async with http.get(url, params={"limit": "1000"}, headers=auth) as response:
        assert len(await response.json()) == 5
    # Bans made from Discord's menu name their moderator; the bot hears of each.
    assert {e.user_id for e in emu.audit_log()} == {emu.user("moderator").id}
    await eventually(lambda: sum(1 for e in bot.events if e[0] == "member_ban") == 5)


async def test_moderation_from_discords_menus_checks_the_moderator(emu: Emulator) -> None:
    with pytest.raises(MissingPermissionsError):
        await emu.ban("admin", by="moderator")
    with pytest.raises(MissingPermissionsError):
        await emu.kick("bob", by="alice")
    await emu.kick("bob", by="owner", reason="bye")
    await emu.timeout("carol", datetime.now(UTC) + timedelta(minutes=1), by="moderator")
    assert [(e.action, e.user_id) for e in emu.audit_log()] == [
        ("MEMBER_KICK", emu.user("owner").id),
        ("MEMBER_UPDATE", emu.user("moderator").id),
    ]


# the audit-log reason


async def test_audit_log_reason_limit_counts_decoded_characters(
    emu: Emulator, bot: SandboxBot
) -> None:
    alice = await member(bot, emu, "alice")
    longest = "é" * 512  # 3,072 characters once percent-encoded
    await alice.timeout(timedelta(minutes=1), reason=longest)
    assert emu.audit_log()[-1].reason == longest
    with pytest.raises(discord.HTTPException) as refused:
        await alice.timeout(timedelta(minutes=2), reason=longest + "!")
    assert refused.value.code == 50035
    [violation] = emu.violations
    assert violation.paths == ("audit_log_reason",)
    assert emu.requests[-1].reason == longest + "!"
    assert len(emu.audit_log()) == 1


# role hierarchy


def test_role_order_agrees_with_discord_py() -> None:
    """Sort the same roles with discord.py's Role ordering and the emulator's rank."""
    world_guild = default_world().guild("alpha")
    guild_stub = type("GuildStub", (), {"id": world_guild.id})()
    # Discord gives every role but @everyone a position of 1 or more (at 0, discord.py's
    # ordering stops being consistent: such a role and @everyone each compare below the other).
    positions = [1, 1, 1, 2, 2, 2, 3, 5, 5, 4]
    for index, position in enumerate(positions):
        world_guild.add_role(f"r{index}", position=position, role_id=world_guild.id + 1000 - index)
    ours = sorted(world_guild.roles, key=world_guild.rank)
    theirs = sorted(
        (discord.Role(guild=guild_stub, state=None, data=r.payload()) for r in world_guild.roles),  # type: ignore[arg-type]
    )
    assert [r.id for r in ours] == [r.id for r in theirs]
    assert ours[0].id == world_guild.id  # @everyone lowest, whatever its position says


async def test_equal_positions_the_lower_id_ranks_higher(emu: Emulator, bot: SandboxBot) -> None:
    world_guild = emu.guild("alpha")
    bulletin = world_guild.role("Bulletin")
    senior = await emu.add_role("Senior", position=bulletin.position, role_id=bulletin.id - 1)
    junior = await emu.add_role("Junior", position=bulletin.position, role_id=bulletin.id + 1)
    await eventually(lambda: alpha(bot, emu).get_role(junior.id) is not None)
    await emu.set_roles("alice", ["Senior"])
    await emu.set_roles("bob", ["Junior"])
    alice, bob = await member(bot, emu, "alice"), await member(bot, emu, "bob")
    # discord.py agrees: the bot's own member update arrives whatever the intents.
    await emu.set_roles("Bulletin", ["Bulletin", "Junior"])
    me = alpha(bot, emu).me
    await eventually(lambda: len(me.roles) == 3)
    assert me.top_role.id == world_guild.top_role(world_guild.member("Bulletin")).id == bulletin.id
    assert alice.top_role > me.top_role  # Senior (lower id) outranks Bulletin
    assert bob.top_role < me.top_role  # Junior (higher id) ranks below
    with pytest.raises(discord.Forbidden):
        await alice.kick()
    await bob.kick()
    assert (senior.position, junior.position) == (bulletin.position, bulletin.position)
    assert [v.code for v in emu.violations] == [50013]
