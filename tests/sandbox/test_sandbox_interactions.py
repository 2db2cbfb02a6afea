"""A real discord.py bot answers slash commands, buttons, autocomplete and modals through the emulator."""

from __future__ import annotations

import asyncio
import base64

import pytest

from sandbox import INTERACTION_TOKEN_PREFIX, ComponentError, Emulator, NoAnswerError
from tests.sandbox.sandbox_testbot import SandboxBot


async def test_embed_reply(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/profile", name="Ann", age=30, motto="Carpe diem")
    assert reply.embeds[0]["title"] == "Profile of Ann"
    assert reply.embeds[0]["description"] == "Carpe diem"
    assert reply.embeds[0]["fields"] == [{"name": "Age", "value": "30", "inline": True}]
    assert reply.embeds[0]["footer"]["text"] == "Requested by alice"
    assert not reply.ephemeral
    assert reply.content == ""
    assert "Profile of Ann" in reply.text
    assert len(reply.messages) == 1
    assert emu.violations == []
    assert emu.unknown_routes == []


async def test_defer_then_edit(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("bob").run("/slow")
    assert reply.response_type == 5
    assert reply.content == "Done thinking."
    assert reply.message is not None
    assert not reply.message.loading
    assert reply.message.edited_at is None  # filling the placeholder is not an edit


async def test_public_defer_deleted_then_ephemeral_followup(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/secret")
    assert reply.deleted
    assert reply.ephemeral
    assert reply.content == "Only you can see this."
    assert [m.content for m in reply.messages] == ["Only you can see this."]
    assert [m.content for m in reply.followups] == ["Only you can see this."]


async def test_first_followup_after_public_defer_is_public(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/leaky")
    # Discord keeps the deferral's visibility: the "ephemeral" follow-up fills the public placeholder.
    assert not reply.ephemeral
    assert reply.content == "Meant to be private."
    assert reply.interaction.ephemeral_followup_ignored


async def test_buttons_update_and_deferred_update(emu: Emulator, bot: SandboxBot) -> None:
    alice = emu.member("alice")
    reply = await alice.run("/pager")
    assert reply.content == "Page 1"
    assert [(b.label, b.disabled) for b in reply.buttons] == [("Next", False), ("Later", False)]

    page2 = await reply.click("Next")
    assert page2.response_type == 7
    assert page2.content == "Page 2"
    assert page2.message is not None
    assert reply.message is not None
    assert page2.message.id == reply.message.id
    assert [(b.label, b.disabled) for b in page2.buttons] == [("Next", True), ("Later", False)]
    with pytest.raises(ComponentError, match="disabled"):
        await page2.click("Next")

    later = await page2.click("Later")
    assert later.response_type == 6
    assert later.content == "Edited after a deferred update"
    assert later.buttons == []


async def test_another_member_gets_an_ephemeral_refusal(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/pager")
    refused = await reply.click("Next", by=emu.member("bob"))
    assert refused.ephemeral
    assert refused.content == "Only the member who ran /pager can use these."
    assert reply.refresh().content == "Page 1"
    private = await emu.member("alice").run("/pager", private=True)
    assert private.ephemeral
    with pytest.raises(ComponentError, match="cannot see"):
        await private.click("Next", by=emu.member("bob"))
    assert (await private.click("Next")).content == "Page 2"


async def test_autocomplete(emu: Emulator, bot: SandboxBot) -> None:
    alice = emu.member("alice")
    choices = await alice.autocomplete("/deletepost", "post", "He")
    assert [(c.name, c.value) for c in choices] == [("Hello world", "0"), ("Help wanted", "1")]
    assert await alice.autocomplete("/deletepost", "post", "zzz") == []
    reply = await alice.run("/deletepost", post=choices[0].value)
    assert reply.content == "Deleted '0'."
    assert reply.ephemeral


async def test_user_option_resolves_member_and_mentions_do_not_ping(
    emu: Emulator, bot: SandboxBot
) -> None:
    bob = emu.member("bob")
    reply = await emu.member("alice").run("/whois", member="bob")
    assert reply.content == f"{bob.mention} is Bob ({bob.member.id})."
    sent = emu.interactions[-1].payload["data"]
    assert set(sent["resolved"]) == {"users", "members"}
    assert sent["resolved"]["members"][str(bob.member.id)]["permissions"]
    assert emu.pings() == []
    assert emu.could_ping() == []


async def test_text_without_allowed_mentions_would_ping(emu: Emulator, bot: SandboxBot) -> None:
    bob = emu.member("bob")
    await emu.member("alice").run("/shout", text=f"hey {bob.mention} and @everyone")
    pings = emu.pings()
    assert len(pings) == 1
    assert pings[0].users == (bob.member.id,)
    assert pings[0].everyone
    assert len(emu.could_ping()) == 1


async def test_modal_submit(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("carol").run("/feedback")
    assert reply.modal is not None
    assert reply.modal.title == "Feedback"
    assert [f.label for f in reply.modal.fields] == ["Topic", "Body"]
    with pytest.raises(ComponentError, match="required"):
        await reply.submit({"Body": "no topic"})
    with pytest.raises(ComponentError, match="at most 50"):
        await reply.submit({"Topic": "x" * 51})
    thanks = await reply.submit({"Topic": "Bugs", "Body": "Many"})
    assert thanks.ephemeral
    assert thanks.content == "Thanks for 'Bugs': Many"


async def test_subcommand_choices_channel_role(emu: Emulator, bot: SandboxBot) -> None:
    alice = emu.member("alice")
    assert (await alice.run("/post create", title="Hi")).content == "Created 'Hi'."
    assert (await alice.run("/choose", colour="blue", shout=True)).content == "YOU CHOSE BLUE"
    reply = await alice.run(
        "/where", channel="#general", role="Moderator", ratio=0.25, nick="Annie"
    )
    assert reply.content == "#general Moderator 0.25 Annie"


async def test_guild_command_only_in_its_guild(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/alphaonly")
    assert reply.content == "Hello from Alpha Community."
    assert emu.interactions[-1].payload["data"]["guild_id"] == str(emu.guild("alpha").id)
    beta_reply = await emu.member("alice", guild="beta").run("/profile", name="B", age=20)
    assert beta_reply.embeds[0]["title"] == "Profile of B"


async def test_embed_limits_are_enforced_with_field_paths(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/echo", title="T" * 257)
    assert reply.content == "Discord said 50035"
    error = bot.http_errors[-1]
    assert error.status == 400
    assert "title" in error.text
    assert emu.violations[-1].paths == ("data.embeds.0.title",)

    reply = await emu.member("alice").run("/echo", title="ok", fields=26)
    assert reply.content == "Discord said 50035"
    assert emu.violations[-1].paths == ("data.embeds.0.fields",)


async def test_second_acknowledgement_is_refused(
    emu: Emulator, bot: SandboxBot, http: object
) -> None:
    import aiohttp

    assert isinstance(http, aiohttp.ClientSession)
    await emu.member("alice").run("/profile", name="Ann", age=30)
    interaction = emu.interactions[-1]
    url = (
        f"{emu.api_url}/interactions/{interaction.id}/{interaction.token}/callback?with_response=1"
    )
    async with http.post(url, json={"type": 4, "data": {"content": "again"}}) as response:
        assert response.status == 400
        assert await response.json() == {
            "message": "Interaction has already been acknowledged.",
            "code": 40060,
        }
    assert emu.violations[-1].code == 40060


@pytest.mark.sandbox_emulator(ack_deadline=0.2)
async def test_late_acknowledgement_is_unknown_interaction(emu: Emulator, bot: SandboxBot) -> None:
    with pytest.raises(NoAnswerError, match="never answered"):
        await emu.member("alice").run("/sleepy", seconds=0.3)
    for _ in range(100):
        if bot.http_errors:
            break
        await asyncio.sleep(0.01)
    assert bot.http_errors[-1].code == 10062
    assert emu.violations[-1].code == 10062
    interaction = emu.interactions[-1]
    assert interaction.late_callbacks == 1
    assert emu.unanswered() == [interaction]


@pytest.mark.sandbox_emulator(ack_deadline=0.2)
async def test_unknown_command_gets_no_answer(emu: Emulator, bot: SandboxBot) -> None:
    with pytest.raises(NoAnswerError, match="did not respond"):
        await emu.member("alice").run("/nosuchcommand", force=True)


async def test_tokens_and_deadlines_look_like_discord(emu: Emulator, bot: SandboxBot) -> None:
    alice = emu.member("alice")
    await alice.run("/profile", name="Ann", age=30)
    await alice.run("/slow")
    await alice.autocomplete("/deletepost", "post", "W")
    assert len(emu.interactions) == 3
    for interaction in emu.interactions:
        assert interaction.token.startswith(INTERACTION_TOKEN_PREFIX)
        assert len(interaction.token) >= 150
        padded = interaction.token + "=" * (-len(interaction.token) % 4)
        assert (
            base64.urlsafe_b64decode(padded).decode().startswith(f"interaction:{interaction.id}:")
        )
        assert interaction.answered_in_time
    assert emu.unanswered() == []
    assert {i.response_type for i in emu.interactions} == {4, 5, 8}


async def test_many_members_at_once(emu: Emulator, bot: SandboxBot) -> None:
    names = ["owner", "admin", "moderator", "alice", "bob", "carol", "dave"]
    replies = await asyncio.gather(
        *(
            emu.member(names[i % len(names)]).run("/profile", name=f"N{i}", age=20 + i)
            for i in range(60)
        )
    )
    assert sorted(r.embeds[0]["title"] for r in replies) == sorted(
        f"Profile of N{i}" for i in range(60)
    )
    assert emu.unanswered() == []
    assert all(i.answered_in_time for i in emu.interactions)


async def test_waiting_for_a_late_change(emu: Emulator, bot: SandboxBot) -> None:
    reply = await emu.member("alice").run("/pager")
    assert reply.content == "Page 1"
    clicked = asyncio.create_task(reply.click("Next"))
    updated = await reply.wait(lambda r: r.content == "Page 2")
    assert updated.buttons[0].disabled
    await clicked
    with pytest.raises(NoAnswerError, match="did not happen"):
        await reply.wait(lambda r: r.content == "Page 3", timeout=0.05)
