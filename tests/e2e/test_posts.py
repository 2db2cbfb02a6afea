"""/post, /myposts and /deletepost, end to end through the emulator."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import bot.ui
from bot.client import Bulletin
from bot.db import posts as post_store
from bot.db.posts import count_posts
from bot.services import posts as post_service
from sandbox import Emulator, MemberDriver, Reply
from tests.discord_markdown import GREEDY_URLS, STRICT_URLS, live_markup, unescaped
from tests.e2e.conftest import BotRunner


async def _registered(
    emulator: Emulator, name: str = "alice", guild: str | None = None
) -> MemberDriver:
    member = emulator.member(name, guild=guild)
    reply = await member.run("/register", name=name.title(), age=30)
    assert "Welcome" in reply.content, reply
    return member


async def _publish(member: MemberDriver, count: int, prefix: str = "post") -> None:
    for i in range(count):
        reply = await member.run("/post", title=f"{prefix} {i}", body=f"body of {prefix} {i}")
        assert not reply.ephemeral, reply


def _titles(reply: Reply) -> list[str]:
    return [str(f["name"]).split(" · ", 1)[1] for f in reply.embeds[0].get("fields", [])]


def _footer(reply: Reply) -> str:
    return str(reply.embeds[0]["footer"]["text"])


async def test_post_is_public_and_shows_id_and_title(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    reply = await alice.run("/post", title="Hello there", body="my first post")
    assert not reply.ephemeral
    (embed,) = reply.embeds
    assert embed["title"].endswith("· Hello there")
    assert embed["title"].startswith("#")
    assert embed["description"] == "my first post"
    assert embed["footer"]["text"].startswith("Post #")
    assert await bulletin.db.read_one(count_posts(emulator.guild().id, alice.user.id)) == 1


async def test_post_without_profile_answers_privately(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    reply = await emulator.member("alice").run("/post", title="Hello")
    # Answered at once: the error is the first (and private) response, nothing public shown.
    assert not reply.deleted
    assert reply.ephemeral
    assert "/register" in reply.text


async def test_post_error_after_a_public_deferral_is_private(
    runner: BotRunner, emulator: Emulator
) -> None:
    await runner.start(defer_after_seconds=0)  # the public "thinking…" comes first
    reply = await emulator.member("alice").run("/post", title="Hello")
    # The public placeholder is gone and the error is private.
    assert reply.deleted
    assert reply.ephemeral
    assert "/register" in reply.text


@pytest.mark.parametrize(
    ("title", "body", "why"),
    [
        ("line\nbreak", None, "single line"),
        ("ok", "null\x00byte", "control characters"),
    ],
)
async def test_post_bad_input_is_private_and_stores_nothing(
    bulletin: Bulletin, emulator: Emulator, title: str, body: str | None, why: str
) -> None:
    alice = await _registered(emulator)
    options: dict[str, Any] = {"title": title}
    if body is not None:
        options["body"] = body
    reply = await alice.run("/post", **options)
    assert reply.ephemeral
    assert why in reply.text
    assert await bulletin.db.read_one(count_posts(emulator.guild().id, alice.user.id)) == 0


async def test_post_at_the_limits_with_markdown_fits_discords_limits(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """256 `*` escape to 512 characters; the embed must still be one Discord accepts."""
    alice = await _registered(emulator)
    reply = await alice.run("/post", title="*" * 256, body="_" * 4000)
    assert not reply.ephemeral
    (embed,) = reply.embeds
    assert len(embed["title"]) <= 256
    assert len(embed["description"]) <= 4096
    assert not embed["title"].endswith("\\…")
    page = await alice.run("/myposts")
    assert len(page.embeds[0]["fields"][0]["name"]) <= 256


async def test_mentions_in_posts_do_not_ping(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    bob = emulator.member("bob")
    reply = await alice.run("/post", title="@everyone look", body=f"{bob.mention} and @here")
    assert "@everyone" in reply.embeds[0]["title"]
    # The runner fixture asserts after the test that no message could ping.


def _inert(text: str) -> bool:
    return live_markup(text, GREEDY_URLS) == live_markup(text, STRICT_URLS) == []


async def test_masked_links_mentions_and_direction_overrides_show_inert(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """Issue 9: escape_markdown left the second masked link of a line clickable."""
    alice = await _registered(emulator)
    emulator.world.user("alice").global_name = "Alice\u202e\u2066"
    title = "invoice\u202egpj.exe ## <@&1>"
    body = "[docs](https://a.example) [Claim Nitro](https://evil.example)\n> quoted @here"
    reply = await alice.run("/post", title=title, body=body)
    (embed,) = reply.embeds
    assert _inert(embed["description"])
    assert unescaped(embed["description"]) == body
    assert "https://evil.example)" in embed["description"]  # plain URLs stay clickable
    assert _inert(embed["title"])
    assert unescaped(embed["title"]).endswith(" · invoicegpj.exe ## <@&1>")
    assert embed["author"]["name"] == "Alice"
    (stored,) = await bulletin.db.read_one(
        post_store.get_user_posts(emulator.guild().id, alice.user.id)
    )
    assert (stored.title, stored.body) == (title, body)  # stored as typed
    (choice,) = await alice.autocomplete("/deletepost", "post", "")
    assert choice.name == f"#{stored.id} · invoicegpj.exe ## <@&1>"  # plain text: not escaped
    (field,) = (await alice.run("/myposts")).embeds[0]["fields"]
    assert _inert(field["name"])
    excerpt, when = field["value"].split("\n")
    assert _inert(excerpt)
    assert when.startswith("<t:")  # the bot's own timestamp tag, the one live thing


async def test_post_cooldown_is_per_member_and_guild(runner: BotRunner, emulator: Emulator) -> None:
    async with runner.run(post_cooldown_seconds=60):
        alice = await _registered(emulator)
        bob = await _registered(emulator, "bob")
        alice_beta = await _registered(emulator, "alice", guild="beta")
        assert not (await alice.run("/post", title="first")).ephemeral
        again = await alice.run("/post", title="second")
        assert again.ephemeral
        assert "Try again in" in again.text
        assert not (await bob.run("/post", title="bob's first")).ephemeral
        assert not (await alice_beta.run("/post", title="other guild")).ephemeral


async def test_myposts_pages_forward_and_back(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    await _publish(alice, 12)
    first = await alice.run("/myposts")
    assert first.ephemeral
    assert _titles(first) == [f"post {i}" for i in (11, 10, 9, 8, 7)]
    assert _footer(first) == "Page 1 of 3 · 12 posts"
    assert [(b.label, b.disabled) for b in first.buttons] == [("Previous", True), ("Next", False)]
    second = await first.click("Next")
    assert _titles(second) == [f"post {i}" for i in (6, 5, 4, 3, 2)]
    assert _footer(second) == "Page 2 of 3 · 12 posts"
    third = await second.click("Next")
    assert _titles(third) == ["post 1", "post 0"]
    assert [(b.label, b.disabled) for b in third.buttons] == [("Previous", False), ("Next", True)]
    back = await third.click("Previous")
    assert _titles(back) == [f"post {i}" for i in (6, 5, 4, 3, 2)]
    top = await back.click("Previous")
    assert _titles(top) == [f"post {i}" for i in (11, 10, 9, 8, 7)]
    assert _footer(top) == "Page 1 of 3 · 12 posts"
    assert "body of post 11" in top.text


async def test_myposts_empty_and_single_page(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    empty = await alice.run("/myposts")
    assert "no posts yet" in empty.text
    assert empty.buttons == []
    await _publish(alice, 3)
    single = await alice.run("/myposts")
    assert len(_titles(single)) == 3
    assert single.buttons == []


async def test_page_buttons_belong_to_their_member(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    bob = emulator.member("bob")
    await _publish(alice, 7)
    first = await alice.run("/myposts")
    intruder = await first.click("Next", by=bob, force=True)
    assert intruder.ephemeral
    assert f"Only {alice.mention} can use these" in intruder.text
    assert _titles(first.refresh()) == [f"post {i}" for i in (6, 5, 4, 3, 2)]


async def test_pages_turn_after_a_restart(runner: BotRunner, emulator: Emulator) -> None:
    async with runner.run():
        alice = await _registered(emulator)
        await _publish(alice, 7)
        first = await alice.run("/myposts")
    async with runner.run():
        second = await first.click("Next")
        assert _titles(second) == ["post 1", "post 0"]


async def test_old_pages_turn_after_a_confirmation_expired(
    bulletin: Bulletin, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await _registered(emulator)
    await _publish(alice, 7)
    pages = await alice.run("/myposts")
    prompt = await alice.run("/leave")
    later = bot.ui.unix_now() + 3600  # the confirmation lasts 30 s; an hour has passed
    monkeypatch.setattr(bot.ui, "unix_now", lambda: later)
    expired = await prompt.click("Cancel")
    assert all(b.disabled for b in expired.buttons)
    assert _titles(await pages.click("Next")) == ["post 1", "post 0"]


async def test_an_error_inside_a_page_button_reaches_the_member(
    bulletin: Bulletin,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = await _registered(emulator)
    await _publish(alice, 7)
    first = await alice.run("/myposts")

    async def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise RuntimeError("index corrupted")

    monkeypatch.setattr(post_service, "page_of_posts", broken)
    with caplog.at_level(logging.ERROR):
        reply = await first.click("Next")
    apologies = [m for m in reply.messages if "error id" in str(m.embeds)]
    assert apologies, reply
    assert apologies[0].ephemeral
    assert "index corrupted" in caplog.text


async def test_deletepost_own_post(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    await _publish(alice, 2)
    (choice, *_) = await alice.autocomplete("/deletepost", "post", "")
    reply = await alice.run("/deletepost", post=choice.value)
    assert reply.ephemeral
    assert f"Deleted post #{choice.value}" in reply.text
    assert await bulletin.db.read_one(count_posts(emulator.guild().id, alice.user.id)) == 1
    again = await alice.run("/deletepost", post=choice.value)
    assert "You have no post" in again.text


async def test_deletepost_accepts_the_form_the_list_shows(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    await _publish(alice, 2)
    (newest, older) = await alice.autocomplete("/deletepost", "post", "")
    assert newest.name.startswith(f"#{newest.value} · ")
    reply = await alice.run("/deletepost", post=newest.name)
    assert f"Deleted post #{newest.value}" in reply.text
    typed = await alice.run("/deletepost", post=f"  #{older.value}  ")
    assert f"Deleted post #{older.value}" in typed.text


async def test_deletepost_cannot_touch_others_posts(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    bob = await _registered(emulator, "bob")
    alice_beta = await _registered(emulator, "alice", guild="beta")
    await _publish(bob, 1)
    (bobs,) = await bob.autocomplete("/deletepost", "post", "")
    assert "You have no post" in (await alice.run("/deletepost", post=bobs.value)).text
    assert "You have no post" in (await alice_beta.run("/deletepost", post=bobs.value)).text
    assert await bulletin.db.read_one(count_posts(emulator.guild().id, bob.user.id)) == 1
    for nonsense in (
        "hello",
        "99999999999999999999",
        "9223372036854775808",
        "0",
        "٣",
        "#²",
        "# · x",
    ):
        reply = await alice.run("/deletepost", post=nonsense)
        assert "Pick one of your posts" in reply.text, nonsense


async def test_autocomplete_lists_filters_and_limits(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    await _publish(alice, 30)
    newest = await alice.autocomplete("/deletepost", "post", "")
    assert len(newest) == 25
    assert newest[0].name.endswith("· post 29")
    assert all(c.name.startswith(f"#{c.value} · ") for c in newest)
    by_title = await alice.autocomplete("/deletepost", "post", "post 1")
    assert {c.name.split(" · ")[1] for c in by_title} == {
        "post 1",
        *(f"post 1{i}" for i in range(10)),
    }
    some_id = str(newest[3].value)
    by_digits = await alice.autocomplete("/deletepost", "post", some_id[:-1])
    assert some_id in {str(c.value) for c in by_digits}
    assert await emulator.member("bob").autocomplete("/deletepost", "post", "") == []


async def test_autocomplete_names_fit_in_100_characters(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    await alice.run("/post", title="t" * 256)
    (choice,) = await alice.autocomplete("/deletepost", "post", "")
    assert len(choice.name) == 100
    assert choice.name.endswith("…")


async def test_an_autocomplete_that_fails_offers_nothing_and_logs(
    bulletin: Bulletin,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = await _registered(emulator)
    await _publish(alice, 2)

    async def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise RuntimeError("search exploded")

    monkeypatch.setattr(post_service, "suggestions", broken)
    with caplog.at_level(logging.ERROR):
        assert await alice.autocomplete("/deletepost", "post", "") == []
    assert "search exploded" in caplog.text
    assert "in autocomplete" in caplog.text


async def test_guilds_never_see_each_others_data(bulletin: Bulletin, emulator: Emulator) -> None:
    alice_alpha = await _registered(emulator, "alice", guild="alpha")
    alice_beta = emulator.member("alice", guild="beta")
    await _publish(alice_alpha, 2, prefix="alpha")
    assert "/register" in (await alice_beta.run("/myposts")).text
    assert "/register" in (await alice_beta.run("/profile")).text
    assert await alice_beta.autocomplete("/deletepost", "post", "") == []
    await _registered(emulator, "alice", guild="beta")
    assert "no posts yet" in (await alice_beta.run("/myposts")).text
    assert len(_titles(await alice_alpha.run("/myposts"))) == 2
