"""The driver refuses what the Discord client would not send, unless forced; raw mode sends an
option list exactly as a forged client would."""

from __future__ import annotations

import pytest

from sandbox import (
    Emulator,
    MissingPermissionsError,
    NoAnswerError,
    OptionError,
    UnknownCommandError,
)
from tests.sandbox.sandbox_testbot import SandboxBot


@pytest.mark.parametrize(
    ("command", "options", "match"),
    [
        ("/profile", {"name": "Ann", "age": 5}, "at least 13"),
        ("/profile", {"name": "Ann", "age": 121}, "at most 120"),
        ("/profile", {"name": "Ann", "age": "30"}, "must be an integer"),
        ("/profile", {"name": "Ann", "age": True}, "must be an integer"),
        ("/profile", {"age": 30}, "needs option 'name'"),
        ("/profile", {"name": "Ann", "age": 30, "colour": "red"}, "no option 'colour'"),
        ("/profile", {"name": 7, "age": 30}, "must be a string"),
        ("/choose", {"colour": "green"}, "one of the choices"),
        ("/choose", {"colour": "red", "shout": "yes"}, "must be a boolean"),
        ("/where", {"channel": "nowhere"}, "no channel 'nowhere'"),
        ("/where", {"channel": "general", "role": "Wizards"}, "no role 'Wizards'"),
        ("/where", {"channel": "general", "ratio": 1.5}, "at most 1.0"),
        ("/where", {"channel": "general", "nick": "x"}, "at least 2 characters"),
        ("/where", {"channel": "general", "nick": "x" * 9}, "at most 8 characters"),
        ("/whois", {"member": "nobody"}, "no user 'nobody'"),
    ],
)
async def test_invalid_options_are_refused(
    emu: Emulator, bot: SandboxBot, command: str, options: dict[str, object], match: str
) -> None:
    with pytest.raises(OptionError, match=match):
        await emu.member("alice").run(command, options=options)
    assert emu.interactions == []


async def test_unknown_commands_and_subcommands(emu: Emulator, bot: SandboxBot) -> None:
    with pytest.raises(UnknownCommandError, match="synced"):
        await emu.member("alice").run("/nosuch")
    with pytest.raises(UnknownCommandError, match="not synced for guild 'beta'"):
        await emu.member("alice", guild="beta").run("/alphaonly")
    with pytest.raises(UnknownCommandError, match="sub-command"):
        await emu.member("alice").run("/post", title="x")
    with pytest.raises(UnknownCommandError, match="no sub-command 'delete'"):
        await emu.member("alice").run("/post delete")
    with pytest.raises(OptionError, match="no autocomplete"):
        await emu.member("alice").autocomplete("/profile", "name", "A")


async def test_default_member_permissions(emu: Emulator, bot: SandboxBot) -> None:
    with pytest.raises(MissingPermissionsError, match="default_member_permissions"):
        await emu.member("alice").run("/ban", member="bob")
    for name in ("moderator", "admin", "owner"):
        reply = await emu.member(name).run("/ban", member="bob")
        assert reply.content == "Would ban Bob."
    # discord.py itself does not check default permissions: a forced run reaches the command.
    forced = await emu.member("alice").run("/ban", member="bob", force=True)
    assert forced.content == "Would ban Bob."


async def test_private_channel_refuses_members_who_cannot_see_it(
    emu: Emulator, bot: SandboxBot
) -> None:
    with pytest.raises(MissingPermissionsError, match="mod-log"):
        await emu.member("alice").run("/slow", in_channel="mod-log")
    reply = await emu.member("moderator").run("/slow", in_channel="mod-log")
    assert reply.content == "Done thinking."
    assert emu.interactions[-1].payload["channel"]["name"] == "mod-log"


async def test_forced_bad_option_reaches_the_bot(emu: Emulator, bot: SandboxBot) -> None:
    # discord.py's Range does no runtime check (it trusts Discord's client): only the driver stands guard.
    reply = await emu.member("alice").run("/profile", name="Ann", age=5, force=True)
    assert reply.embeds[0]["fields"][0]["value"] == "5"
    assert emu.interactions[-1].payload["data"]["options"][1] == {
        "name": "age",
        "type": 4,
        "value": 5,
    }


@pytest.mark.sandbox_emulator(ack_deadline=0.2)
async def test_forced_wrong_type_fails_in_the_bot(emu: Emulator, bot: SandboxBot) -> None:
    with pytest.raises(NoAnswerError):
        await emu.member("alice").run("/whois", member=123456789012345678, force=True)
    assert type(bot.errors[-1]).__name__ == "TransformerError"


async def test_options_payload_shape(emu: Emulator, bot: SandboxBot) -> None:
    alpha = emu.guild("alpha")
    await emu.member("bob").run("/where", nick="Bobby", channel="general", ratio=1)
    payload = emu.interactions[-1].payload
    assert [o["name"] for o in payload["data"]["options"]] == ["channel", "ratio", "nick"]
    channel = payload["data"]["resolved"]["channels"][str(alpha.channel("general").id)]
    assert channel["name"] == "general"
    assert payload["member"]["user"]["username"] == "bob"
    assert int(payload["member"]["permissions"]) == emu.member("bob").permissions()
    assert payload["channel"]["id"] == str(alpha.channel("general").id)
    assert payload["attachment_size_limit"] > 0
    assert payload["context"] == 0
    assert payload["entitlements"] == []
    await emu.member("alice").run("/post create", title="t")
    data = emu.interactions[-1].payload["data"]
    assert data["options"] == [
        {"name": "create", "type": 1, "options": [{"name": "title", "type": 3, "value": "t"}]}
    ]


async def test_raw_mode_sends_the_option_list_as_given(emu: Emulator, bot: SandboxBot) -> None:
    """What the checked driver refuses (a string for an integer) reaches the bot unchanged."""
    options = [
        {"name": "name", "type": 3, "value": "Ann"},
        {"name": "age", "type": 4, "value": "30"},
        {"name": "colour", "type": 3, "value": ["red"]},
    ]
    with pytest.raises(OptionError, match="must be an integer"):
        await emu.member("alice").run("/profile", name="Ann", age="30")
    reply = await emu.member("alice").run_raw("/profile", options)
    data = emu.interactions[-1].payload["data"]
    assert data["options"] == options
    assert "resolved" not in data
    # discord.py passes the string through its Range transformer unchecked.
    assert reply.embeds[0]["fields"][0]["value"] == "30"


async def test_raw_mode_resolves_known_ids_as_discord_does(emu: Emulator, bot: SandboxBot) -> None:
    bob = emu.member("bob")
    reply = await emu.member("alice").run_raw(
        "/whois", [{"name": "member", "type": 6, "value": str(bob.user.id)}]
    )
    assert reply.content == f"{bob.mention} is Bob ({bob.user.id})."
    resolved = emu.interactions[-1].payload["data"]["resolved"]
    assert list(resolved["users"]) == list(resolved["members"]) == [str(bob.user.id)]


@pytest.mark.sandbox_emulator(ack_deadline=0.2)
async def test_raw_mode_delivers_what_discord_py_cannot_read(
    emu: Emulator, bot: SandboxBot
) -> None:
    options = [{"name": "member", "type": 6, "value": "not an id"}]
    # discord.py's Namespace calls int() on the value in a task nobody awaits: no answer.
    with pytest.raises(NoAnswerError):
        await emu.member("alice").run_raw("/whois", options)
    data = emu.interactions[-1].payload["data"]
    assert data["options"] == options
    assert "resolved" not in data


async def test_raw_autocomplete_sends_the_option_list_as_given(
    emu: Emulator, bot: SandboxBot
) -> None:
    options = [{"name": "post", "type": 3, "value": "he", "focused": True, "extra": [1, None]}]
    choices = await emu.member("alice").autocomplete_raw("/deletepost", options)
    assert [c.name for c in choices] == ["Hello world", "Help wanted"]
    assert emu.interactions[-1].payload["data"]["options"] == options
    assert emu.interactions[-1].payload["type"] == 4


@pytest.mark.sandbox_emulator(ack_deadline=0.2)
async def test_raw_mode_sends_even_what_is_not_a_list(emu: Emulator, bot: SandboxBot) -> None:
    for options in ({"name": "Ann"}, "Ann", 7, None):
        with pytest.raises(NoAnswerError):
            await emu.member("alice").run_raw("/profile", options)
        assert emu.interactions[-1].payload["data"]["options"] == options


async def test_raw_mode_still_needs_a_synced_allowed_command(
    emu: Emulator, bot: SandboxBot
) -> None:
    with pytest.raises(UnknownCommandError, match="synced"):
        await emu.member("alice").run_raw("/nosuch", [])
    with pytest.raises(MissingPermissionsError, match="default_member_permissions"):
        await emu.member("alice").run_raw("/ban", [{"name": "member", "type": 6, "value": 1}])
    assert emu.interactions == []
