"""The bot logs in to the emulator, syncs its seven commands, and answers one."""

from __future__ import annotations

from bot.client import Bulletin
from sandbox import Emulator

COMMANDS = {"register", "profile", "rename", "leave", "post", "myposts", "deletepost", "about"}


async def test_bot_syncs_its_commands_and_answers(bulletin: Bulletin, emulator: Emulator) -> None:
    assert {c.name for c in emulator.commands()} == COMMANDS
    reply = await emulator.member("alice").run("/register", name="Ann", age=30)
    assert reply.ephemeral
    assert reply.embeds[0]["title"] == "Ann"


async def test_about_needs_no_profile(bulletin: Bulletin, emulator: Emulator) -> None:
    reply = await emulator.member("erin", guild="beta").run("/about")
    assert reply.ephemeral
    (embed,) = reply.embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Version"] == "0.1.0"
    assert fields["Shard"] == "1 of 1"
    assert set(fields) == {"Version", "Uptime", "Gateway latency", "Shard"}
