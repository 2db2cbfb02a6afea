"""Message deletion (one, and bulk), members' messages, and files on interaction answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import discord
import pytest

from sandbox import Emulator, Permission
from tests.sandbox.sandbox_testbot import BotFactory, SandboxBot
from tests.sandbox.test_sandbox_channels import text_channel
from tests.sandbox.test_sandbox_moderation import events

NO_PINGS = discord.AllowedMentions.none()
MIB = 1024 * 1024


async def drop_manage_messages(emu: Emulator) -> None:
    role = emu.guild("alpha").role("Bulletin")
    await emu.edit_role("Bulletin", permissions=role.permissions & ~Permission.MANAGE_MESSAGES)


# one message


async def test_deleting_the_bots_own_and_a_members_message(emu: Emulator, bot: SandboxBot) -> None:
    general = text_channel(bot, emu, "general")
    own = await general.send("mine", allowed_mentions=NO_PINGS)
    await own.delete()
    # Deleting it twice is the bot's own mistake.
    with pytest.raises(discord.NotFound) as twice:
        await own.delete()
    assert twice.value.code == 10008
    assert [v.code for v in emu.violations] == [10008]
    assert emu.audit_log() == []  # Discord logs no deletion of one's own message

    spam = await emu.post_message("alice", "buy now")
    # Message.delete() takes no reason; discord.py's HTTP client does.
    await bot.http.delete_message(general.id, spam.id, reason="spam")
    assert spam.deleted
    assert spam.deleted_by == emu.world.bot.id
    [entry] = emu.audit_log()
    assert (entry.action, entry.target_id, entry.reason) == (
        "MESSAGE_DELETE",
        emu.user("alice").id,
        "spam",
    )
    assert entry.options == {"channel_id": str(general.id), "count": "1"}
    assert [e["id"] for e in events(emu, "MESSAGE_DELETE")] == [str(own.id), str(spam.id)]


async def test_a_message_someone_else_deleted_is_an_ordinary_10008(
    emu: Emulator, bot: SandboxBot
) -> None:
    general = text_channel(bot, emu, "general")
    post = await general.send("a post's announcement", allowed_mentions=NO_PINGS)
    await emu.delete_message(post.id, by="moderator")
    selfie = await emu.post_message("bob", "oops")
    await emu.delete_message(selfie)
    for gone in (post.id, selfie.id):
        with pytest.raises(discord.NotFound) as missing:
            await general.get_partial_message(gone).delete()
        assert missing.value.code == 10008
    assert emu.violations == []
    assert [e.user_id for e in emu.audit_log()] == [emu.user("moderator").id]


async def test_another_members_message_needs_manage_messages(
    emu: Emulator, bot: SandboxBot
) -> None:
    general = text_channel(bot, emu, "general")
    theirs = await emu.post_message("bob", "hello")
    own = await general.send("hi", allowed_mentions=NO_PINGS)
    await drop_manage_messages(emu)
    with pytest.raises(discord.Forbidden) as refused:
        await general.get_partial_message(theirs.id).delete()
    assert refused.value.code == 50013
    await own.delete()  # the bot's own needs nothing
    assert not theirs.deleted
    with pytest.raises(discord.Forbidden) as edit:
        await general.get_partial_message(theirs.id).edit(content="mine now")
    assert edit.value.code == 50005
    assert [v.code for v in emu.violations] == [50013, 50005]


async def test_member_messages_reach_the_bot_without_their_text(
    emu: Emulator, bot: SandboxBot
) -> None:
    message = await emu.post_message("carol", "secret text", channel="general")
    [created] = events(emu, "MESSAGE_CREATE")
    assert created["id"] == str(message.id)
    assert created["author"]["id"] == str(emu.user("carol").id)  # type: ignore[index]
    # Without the privileged MESSAGE_CONTENT intent, Discord blanks the text.
    assert created["content"] == ""
    assert emu.messages[-1].content == "secret text"


# bulk delete


async def test_bulk_delete(emu: Emulator, bot: SandboxBot) -> None:
    general = text_channel(bot, emu, "general")
    posted = [await emu.post_message(name, f"spam {name}") for name in ("alice", "bob", "dave")]
    own = await general.send("mine", allowed_mentions=NO_PINGS)
    gone = await emu.post_message("carol", "already gone")
    await emu.delete_message(gone)
    ids = [m.id for m in posted] + [own.id, gone.id]
    await general.delete_messages([discord.Object(i) for i in ids], reason="raid")
    assert all(m.deleted for m in posted)
    assert emu.state.messages[own.id].deleted
    [bulk] = events(emu, "MESSAGE_DELETE_BULK")
    # The message someone else had deleted is skipped, as Discord does.
    assert bulk["ids"] == [str(i) for i in ids[:4]]
    entry = emu.audit_log()[-1]
    assert (entry.action, entry.target_id, entry.reason, entry.options) == (
        "MESSAGE_BULK_DELETE",
        general.id,
        "raid",
        {"count": "4"},
    )
    assert emu.violations == []


async def test_bulk_delete_rules(
    emu: Emulator, bot: SandboxBot, http: aiohttp.ClientSession
) -> None:
    general = text_channel(bot, emu, "general")
    old = await emu.post_message("alice", "old", at=datetime.now(UTC) - timedelta(days=15))
    new = await emu.post_message("alice", "new")
    with pytest.raises(discord.HTTPException) as too_old:
        await general.delete_messages([discord.Object(old.id), discord.Object(new.id)])
    assert too_old.value.code == 50034
    assert not new.deleted

    url = f"{emu.api_url}/channels/{general.id}/messages/bulk-delete"
    auth = {"Authorization": f"Bot {emu.token}"}
    for ids in ([str(new.id)], [str(new.id + n) for n in range(101)], [str(new.id)] * 2, None):
        async with http.post(url, json={"messages": ids}, headers=auth) as response:
            body = await response.json()
        assert (response.status, body["code"]) == (400, 50035)
        assert "messages" in body["errors"]

    await drop_manage_messages(emu)
    own = [await general.send(f"mine {n}", allowed_mentions=NO_PINGS) for n in range(2)]
    with pytest.raises(discord.Forbidden):
        await general.delete_messages(own)  # bulk delete needs Manage Messages, own or not
    assert [v.code for v in emu.violations] == [50034, 50035, 50035, 50035, 50035, 50013]


# files on interaction answers


async def test_files_on_interaction_answers_keep_their_bytes(
    emu: Emulator, bot: SandboxBot, http: aiohttp.ClientSession
) -> None:
    expected = bytes(index % 251 for index in range(3000))
    reply = await emu.member("alice").run("/export", size=3000)
    assert reply.ephemeral
    assert reply.message is not None
    assert reply.message.file("export.bin") == expected
    [attachment] = reply.message.attachments
    assert attachment["size"] == 3000
    async with http.get(attachment["url"]) as response:
        assert await response.read() == expected
    callback = next(r for r in emu.requests if r.path.endswith("/callback"))
    assert callback.files == ("export.bin",)
    assert callback.body["data"]["attachments"][0]["filename"] == "export.bin"

    followed = await emu.member("bob").run("/export", size=10, followup=True)
    assert followed.message is not None
    assert followed.message.file("export.bin") == expected[:10]
    assert emu.violations == []


async def test_uploads_past_10_mib_are_refused_with_40005(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/export", size=10 * MIB, timeout=20)
    assert reply.message is not None
    assert len(reply.message.file("export.bin")) == 10 * MIB
    refused = await emu.member("alice").run("/export", size=10 * MIB + 1, timeout=20)
    assert refused.content == "Discord said 40005"
    [violation] = emu.violations
    assert (violation.status, violation.code) == (413, 40005)
    later = await emu.member("bob").run("/export", size=10 * MIB + 1, followup=True, timeout=20)
    assert later.content == "Discord said 40005"
    assert [e.code for e in bot.http_errors] == [40005, 40005]


@pytest.mark.sandbox_emulator(shard_count=1)
async def test_member_messages_need_the_guild_messages_intent(
    emu: Emulator, start_bot: BotFactory
) -> None:
    intents = discord.Intents.default()
    intents.guild_messages = False
    await start_bot(intents=intents)
    message = await emu.post_message("alice", "hello")
    await emu.delete_message(message)
    assert events(emu, "MESSAGE_CREATE") == events(emu, "MESSAGE_DELETE") == []
