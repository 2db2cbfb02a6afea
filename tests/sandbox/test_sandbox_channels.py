"""Channel messages and DMs with Discord's checks: View Channel, Send Messages, Embed Links,
Attach Files from roles plus overwrites; closed DMs; deleted channels and CHANNEL_DELETE."""

from __future__ import annotations

import io

import aiohttp
import discord
import pytest

from sandbox import Emulator, Permission
from tests.sandbox.sandbox_testbot import BotFactory, SandboxBot
from tests.sandbox.test_sandbox_moderation import events, eventually

NO_PINGS = discord.AllowedMentions.none()


def text_channel(bot: SandboxBot, emu: Emulator, name: str) -> discord.TextChannel:
    channel = bot.get_channel(emu.guild("alpha").channel(name).id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# DMs


async def test_dm_is_recorded_for_the_recipient(emu: Emulator, bot: SandboxBot) -> None:
    alice = await bot.fetch_user(emu.user("alice").id)
    await alice.send("Hello Alice", allowed_mentions=NO_PINGS)
    await alice.send(embed=discord.Embed(title="Your case"))
    sent = emu.dms("alice")
    assert [m.content for m in sent] == ["Hello Alice", ""]
    assert sent[1].embeds[0]["title"] == "Your case"
    assert all(m.guild_id is None for m in sent)
    opened = [r for r in emu.requests if r.path == "/users/@me/channels"]
    assert [(r.status, r.body) for r in opened] == [(200, {"recipient_id": alice.id})]
    assert opened[0].response["recipients"][0]["id"] == str(alice.id)
    assert emu.dms("bob") == []
    assert emu.violations == []


async def test_closed_dms_answer_50007_an_ordinary_error(emu: Emulator, bot: SandboxBot) -> None:
    emu.user("alice").dms_open = False
    alice = await bot.fetch_user(emu.user("alice").id)
    with pytest.raises(discord.Forbidden) as closed:
        await alice.send("You were warned.")
    assert closed.value.code == 50007
    assert emu.dms("alice") == []
    assert emu.violations == []
    emu.user("alice").dms_open = True
    await alice.send("Second try.")
    assert [m.content for m in emu.dms("alice")] == ["Second try."]


async def test_no_dm_to_someone_sharing_no_guild(emu: Emulator, bot: SandboxBot) -> None:
    stranger = await bot.fetch_user(emu.add_user("stranger").id)
    with pytest.raises(discord.Forbidden) as refused:
        await stranger.send("hi")
    assert refused.value.code == 50007
    # erin is in beta only; once she leaves it she shares nothing with the bot.
    erin = await bot.fetch_user(emu.user("erin").id)
    await erin.send("still here")
    await emu.leave("erin", guild="beta")
    with pytest.raises(discord.Forbidden):
        await erin.send("gone")
    assert [m.content for m in emu.dms("erin")] == ["still here"]
    assert emu.violations == []


async def test_dm_channel_with_an_unknown_user(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = {"Authorization": f"Bot {emu.token}"}
    url = f"{emu.api_url}/users/@me/channels"
    async with http.post(url, json={"recipient_id": "123456789012345678"}, headers=auth) as r:
        assert (r.status, (await r.json())["code"]) == (400, 50033)
    async with http.post(url, json={}, headers=auth) as r:
        assert (await r.json())["errors"]["recipient_id"]["_errors"][0]["code"] == (
            "BASE_TYPE_REQUIRED"
        )
    assert [v.code for v in emu.violations] == [50035]


# guild channels


async def test_channel_permissions_from_roles_and_overwrites(
    emu: Emulator, bot: SandboxBot
) -> None:
    general = text_channel(bot, emu, "general")
    await emu.set_overwrite("general", "Bulletin", deny=Permission.VIEW_CHANNEL)
    with pytest.raises(discord.Forbidden) as hidden:
        await general.send("hidden")
    assert hidden.value.code == 50001

    await emu.set_overwrite("general", "Bulletin", deny=Permission.SEND_MESSAGES)
    with pytest.raises(discord.Forbidden) as mute:
        await general.send("muted")
    assert mute.value.code == 50013
    # A member overwrite for the bot beats its role's deny.
    bot_member = emu.guild("alpha").member(emu.world.bot.id)
    await emu.set_overwrite("general", bot_member, allow=Permission.SEND_MESSAGES)
    await general.send("member overwrite wins", allowed_mentions=NO_PINGS)
    await emu.set_overwrite("general", bot_member)
    await emu.set_overwrite("general", "Bulletin")
    assert emu.guild("alpha").channel("general").overwrites == []
    await emu.set_overwrite("general", "@everyone", deny=Permission.EMBED_LINKS)
    with pytest.raises(discord.Forbidden):
        await general.send(embed=discord.Embed(title="embed only"))
    # With text too, Discord sends the text and leaves the embed out.
    sent = await general.send("text and embed", embed=discord.Embed(title="dropped"))
    assert (sent.content, sent.embeds) == ("text and embed", [])

    await emu.set_overwrite("general", "@everyone", deny=Permission.ATTACH_FILES)
    with pytest.raises(discord.Forbidden):
        await general.send("a file", file=discord.File(io.BytesIO(b"{}"), filename="a.json"))
    assert [v.code for v in emu.violations] == [50001, 50013, 50013, 50013]
    # The private #mod-log is open to the bot through its role's overwrite.
    await text_channel(bot, emu, "mod-log").send(embed=discord.Embed(title="Case 1"))


async def test_deleted_channel_sends_channel_delete_and_answers_10003(
    emu: Emulator, bot: SandboxBot, http: aiohttp.ClientSession
) -> None:
    mod_log = text_channel(bot, emu, "mod-log")
    await emu.delete_channel("mod-log", reason="tidy up")
    [deleted] = events(emu, "CHANNEL_DELETE")
    assert deleted["id"] == str(mod_log.id)
    await eventually(lambda: ("channel_delete", mod_log.id) in bot.events)
    with pytest.raises(discord.NotFound) as gone:
        await mod_log.send(embed=discord.Embed(title="Case 2"))
    assert gone.value.code == 10003
    assert emu.violations == []  # a channel someone deleted is an ordinary answer
    [entry] = emu.audit_log()
    assert (entry.action, entry.target_id, entry.reason) == (
        "CHANNEL_DELETE",
        mod_log.id,
        "tidy up",
    )

    auth = {"Authorization": f"Bot {emu.token}"}
    async with http.post(
        f"{emu.api_url}/channels/42/messages", json={"content": "x"}, headers=auth
    ) as response:
        assert (await response.json())["code"] == 10003
    assert [v.code for v in emu.violations] == [10003]  # an id that never was a channel


async def test_channel_delete_needs_the_guilds_intent(emu: Emulator, start_bot: BotFactory) -> None:
    await start_bot(intents=discord.Intents.none())
    await emu.delete_channel("general")
    assert events(emu, "CHANNEL_DELETE") == []
    assert emu.guild("alpha").deleted_channels[0].name == "general"
