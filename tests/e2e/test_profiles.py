"""/register, /profile, /rename and /leave, end to end through the emulator."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.client import Bulletin
from bot.db.users import get_user_or_none
from bot.services import profiles
from sandbox import Emulator, OptionError
from tests.discord_markdown import live_markup, unescaped
from tests.e2e.conftest import counting_statements


def _field(reply_embed: dict[str, object], name: str) -> str | None:
    for field in reply_embed.get("fields") or []:  # type: ignore[attr-defined]
        if field["name"] == name:
            return str(field["value"])
    return None


async def test_register_shows_the_new_profile(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = emulator.member("alice")
    reply = await alice.run("/register", name="  Ann  ", age=30)
    assert reply.ephemeral
    (embed,) = reply.embeds
    assert embed["title"] == "Ann"
    assert _field(embed, "Age") == "30"
    assert _field(embed, "Posts") == "0"
    assert _field(embed, "Member") == alice.mention
    guild = emulator.guild()
    stored = await bulletin.db.read_one(get_user_or_none(guild.id, alice.user.id))
    assert stored is not None
    assert stored.name == "Ann"


async def test_second_registration_is_refused(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    reply = await alice.run("/register", name="Other", age=31)
    assert reply.ephemeral
    assert "already have a profile" in reply.text
    assert (await alice.run("/profile")).embeds[0]["title"] == "Ann"


async def test_twenty_concurrent_registrations_make_one_profile(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = emulator.member("alice")
    replies = await asyncio.gather(
        *(alice.run("/register", name=f"Ann {i}", age=30) for i in range(20))
    )
    welcomed = [r for r in replies if "Welcome" in r.content]
    refused = [r for r in replies if "already have a profile" in r.text]
    assert (len(welcomed), len(refused)) == (1, 19)
    assert all(r.ephemeral for r in replies)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("   ", "cannot be empty"),
        ("two\nlines", "single line"),
        ("bell\x07", "single line"),
    ],
)
async def test_register_bad_names_are_explained_privately(
    bulletin: Bulletin, emulator: Emulator, name: str, why: str
) -> None:
    alice = emulator.member("alice")
    reply = await alice.run("/register", name=name, age=30)
    assert reply.ephemeral
    assert why in reply.text
    assert await bulletin.db.read_one(get_user_or_none(emulator.guild().id, alice.user.id)) is None


async def test_the_client_refuses_out_of_range_options(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """The synced command declares the limits, so Discord's client refuses before sending."""
    alice = emulator.member("alice")
    with pytest.raises(OptionError):
        await alice.run("/register", name="x" * 33, age=30)
    with pytest.raises(OptionError):
        await alice.run("/register", name="Ann", age=12)
    with pytest.raises(OptionError):
        await alice.run("/register", name="", age=30)


async def test_forced_bad_values_are_still_refused_by_the_bot(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """A modified client can send anything; the data layer's rules still hold."""
    alice = emulator.member("alice")
    reply = await alice.run("/register", name="x" * 40, age=200, force=True)
    assert reply.ephemeral
    assert await bulletin.db.read_one(get_user_or_none(emulator.guild().id, alice.user.id)) is None


async def test_mentions_and_markdown_in_names_neither_ping_nor_format(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = emulator.member("alice")
    role_id = emulator.guild().roles[-1].id
    name = f"@everyone<@&{role_id}>\u202e"
    reply = await alice.run("/register", name=name, age=30)
    title = reply.embeds[0]["title"]
    assert live_markup(title) == []  # shown as typed: no mention drawn
    assert unescaped(title) == f"@everyone<@&{role_id}>"  # less the right-to-left override
    stored = await bulletin.db.read_one(get_user_or_none(emulator.guild().id, alice.user.id))
    assert stored is not None
    assert stored.name == name  # stored as typed, cleaned only for display
    stars = await emulator.member("bob").run("/register", name="*" * 32, age=30)
    assert stars.embeds[0]["title"] == "\\*" * 32  # escaped: shown as stars, not bold


async def test_profile_of_self_and_of_another_member(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice, bob = emulator.member("alice"), emulator.member("bob")
    await alice.run("/register", name="Ann", age=30)
    await alice.run("/post", title="one")
    own = await alice.run("/profile")
    assert own.ephemeral
    assert (_field(own.embeds[0], "Age"), _field(own.embeds[0], "Posts")) == ("30", "1")
    seen_by_bob = await bob.run("/profile", member=alice.user.id)
    assert seen_by_bob.ephemeral
    assert seen_by_bob.embeds[0]["title"] == "Ann"
    assert _field(seen_by_bob.embeds[0], "Age") is None  # age is private
    assert _field(seen_by_bob.embeds[0], "Posts") == "1"


async def test_profile_of_someone_not_in_the_server_names_them_readably(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """Issue 9: the member saw "<User id=… name=… global_name=…> is not a valid value…"."""
    erin = emulator.world.user("erin")  # a member of beta, not of alpha
    erin.global_name = "[Claim Nitro](https://evil.example) @everyone\u202e " + "x" * 5000
    reply = await emulator.member("alice").run("/profile", member=erin.id)
    assert reply.ephemeral
    (embed,) = reply.embeds
    description = embed["description"]
    assert "<User" not in description
    assert "id=" not in description
    assert live_markup(description) == []
    assert unescaped(description).startswith("[Claim Nitro](https://evil.example) @everyone xxx")
    assert description.endswith("… is not a member of this server.")
    assert len(description) < 200
    # The runner checks afterwards that Discord would have accepted the reply.


async def test_profile_without_registration(bulletin: Bulletin, emulator: Emulator) -> None:
    alice, bob = emulator.member("alice"), emulator.member("bob")
    mine = await alice.run("/profile")
    assert mine.ephemeral
    assert "/register" in mine.text
    theirs = await alice.run("/profile", member=bob.user.id)
    assert "has no profile" in theirs.text


async def test_rename(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    reply = await alice.run("/rename", name="Annie")
    assert reply.ephemeral
    assert reply.embeds[0]["title"] == "Annie"
    assert (await alice.run("/profile")).embeds[0]["title"] == "Annie"
    bad = await alice.run("/rename", name="tab\tname")
    assert "single line" in bad.text
    unregistered = await emulator.member("bob").run("/rename", name="Bob")
    assert "/register" in unregistered.text


async def test_leave_confirmed_deletes_profile_and_posts(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    for i in range(3):
        await alice.run("/post", title=f"post {i}")
    prompt = await alice.run("/leave")
    assert prompt.ephemeral
    assert [b.label for b in prompt.buttons] == ["Confirm", "Cancel"]
    assert "3 posts" in prompt.text
    done = await prompt.click("Confirm")
    assert "3 posts were deleted" in done.text
    assert done.buttons == []
    assert await bulletin.db.read_one(get_user_or_none(emulator.guild().id, alice.user.id)) is None
    assert "/register" in (await alice.run("/myposts")).text


async def test_leave_without_posts_mentions_none(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    prompt = await alice.run("/leave")
    (embed,) = prompt.embeds
    assert embed["description"] == "This deletes your profile in this server. It cannot be undone."
    await alice.run("/post", title="one")
    (embed,) = (await alice.run("/leave")).embeds
    assert embed["description"] == (
        "This deletes your profile and your 1 post in this server. It cannot be undone."
    )


async def test_leave_cancelled_keeps_everything(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    prompt = await alice.run("/leave")
    cancelled = await prompt.click("Cancel")
    assert "Nothing was deleted" in cancelled.text
    assert cancelled.buttons == []
    assert (
        await bulletin.db.read_one(get_user_or_none(emulator.guild().id, alice.user.id)) is not None
    )


async def test_leave_buttons_belong_to_their_member(bulletin: Bulletin, emulator: Emulator) -> None:
    alice, bob = emulator.member("alice"), emulator.member("bob")
    await alice.run("/register", name="Ann", age=30)
    prompt = await alice.run("/leave")
    intruder = await prompt.click("Confirm", by=bob, force=True)
    assert intruder.ephemeral
    assert f"Only {alice.mention} can use these" in intruder.text
    assert (
        await bulletin.db.read_one(get_user_or_none(emulator.guild().id, alice.user.id)) is not None
    )


async def test_leave_without_profile(bulletin: Bulletin, emulator: Emulator) -> None:
    reply = await emulator.member("alice").run("/leave")
    assert reply.buttons == []
    assert "/register" in reply.text


async def test_a_failed_confirmation_is_reported_and_its_buttons_stay_usable(
    bulletin: Bulletin,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    prompt = await alice.run("/leave")

    async def broken(*_args: object) -> int:
        raise RuntimeError("disk on fire")

    # The cog calls profiles.leave through the module, so this is what it reaches.
    monkeypatch.setattr(profiles, "leave", broken)
    with caplog.at_level(logging.ERROR):
        reply = await prompt.click("Confirm")
    apology = [m for m in reply.messages if "error id" in str(m.embeds)]
    assert apology, reply
    assert apology[0].ephemeral
    assert "disk on fire" in caplog.text
    assert "Error " in caplog.text
    # The failed action left the buttons usable: once the fault is gone, Confirm works.
    assert [b.disabled for b in prompt.refresh().buttons] == [False, False]
    monkeypatch.undo()
    done = await prompt.click("Confirm")
    assert "Your profile and 0 posts were deleted" in done.text
    assert await bulletin.db.read_one(get_user_or_none(emulator.guild().id, alice.user.id)) is None


async def test_member_commands_use_at_most_two_statements(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = emulator.member("alice")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("/register", {"name": "Ann", "age": 30}),
        ("/profile", {}),
        ("/rename", {"name": "Annie"}),
        *[("/post", {"title": f"Hello {i}", "body": "there"}) for i in range(7)],
        ("/deletepost", {"post": "1"}),
    ]
    for command, options in steps:
        with counting_statements(bulletin.db) as seen:
            await alice.run(command, **options)
        assert 1 <= seen.count <= 2, (command, seen.statements)
    with counting_statements(bulletin.db) as seen:
        page = await alice.run("/myposts")
    assert 1 <= seen.count <= 2, ("/myposts", seen.statements)
    with counting_statements(bulletin.db) as seen:
        await page.click("Next")
    assert 1 <= seen.count <= 2, ("Next", seen.statements)
    with counting_statements(bulletin.db) as seen:
        prompt = await alice.run("/leave")
    assert 1 <= seen.count <= 2, ("/leave", seen.statements)
    with counting_statements(bulletin.db) as seen:
        await prompt.click("Confirm")
    assert 1 <= seen.count <= 2, ("Confirm", seen.statements)
