"""Buttons that outlive the process: every button the bot sends keeps working after a restart,
or answers that it has expired (issue 9, section 2)."""

from __future__ import annotations

from typing import Any, cast

import discord
import pytest

import bot.ui
from bot.client import Bulletin
from bot.db.users import get_user_or_none
from bot.embeds import success_embed
from bot.replies import Reply as BotReply
from bot.ui import ConfirmButton, expired_fallback
from cogs.posts import PageButton
from cogs.profiles import LeaveButton
from sandbox import Emulator
from sandbox.driver import MemberDriver, Reply
from sandbox.messages import walk_components
from tests.e2e.conftest import BotRunner

PREFIX = "b1:"
EXPIRED_BUTTON = "This button has expired. Run the command again."


def _as_left_by_an_older_bot(emulator: Emulator, reply: Reply, custom_ids: dict[str, str]) -> None:
    """Give buttons of the reply's message other custom_ids, as an earlier version of the bot
    (or a feature since removed) would have left them.

    Discord only delivers presses of components that are on the message, so this is how a
    custom_id the bot no longer knows reaches it.
    """
    assert reply.message is not None
    live = emulator.state.messages[reply.message.id]
    for component in walk_components(live.components):
        if component.get("type") == 2 and component.get("label") in custom_ids:
            component["custom_id"] = custom_ids[component["label"]]


async def _registered(emulator: Emulator, name: str = "alice", posts: int = 0) -> MemberDriver:
    member = emulator.member(name)
    await member.run("/register", name=name.title(), age=30)
    for i in range(posts):
        await member.run("/post", title=f"post {i}")
    return member


async def _has_profile(bulletin: Bulletin, emulator: Emulator, member: MemberDriver) -> bool:
    found = await bulletin.db.read_one(get_user_or_none(emulator.guild().id, member.user.id))
    return found is not None


async def test_every_button_carries_the_prefix(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator, posts=7)
    pages = await alice.run("/myposts")
    prompt = await alice.run("/leave")
    buttons = pages.buttons + prompt.buttons
    assert len(buttons) == 4
    for button in buttons:
        assert button.custom_id is not None
        assert button.custom_id.startswith(PREFIX), button
        assert len(button.custom_id) <= 100


async def test_confirm_and_cancel_work_after_a_restart(
    runner: BotRunner, emulator: Emulator
) -> None:
    first = await runner.start()
    alice = await _registered(emulator, posts=2)
    bob = emulator.member("bob")
    to_confirm = await alice.run("/leave")
    to_cancel = await alice.run("/leave")
    await runner.stop(first)

    second = await runner.start()
    intruder = await to_confirm.click("Confirm", by=bob, force=True)
    assert intruder.ephemeral
    assert f"Only {alice.mention} can use these" in intruder.text
    cancelled = await to_cancel.click("Cancel")
    assert "Nothing was deleted" in cancelled.text
    assert cancelled.buttons == []
    assert await _has_profile(second, emulator, alice)
    done = await to_confirm.click("Confirm")
    assert "Your profile and 2 posts were deleted" in done.text
    assert done.buttons == []
    assert not await _has_profile(second, emulator, alice)


async def test_a_press_after_the_expiry_answers_expired_and_changes_nothing(
    bulletin: Bulletin, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's confirmations last 30 s; the bot's clock is moved instead of waiting."""
    start = 1_900_000_000.0
    clock = [start]
    monkeypatch.setattr(bot.ui, "unix_now", lambda: clock[0])
    alice = await _registered(emulator)
    late = await alice.run("/leave")
    just_in_time = await alice.run("/leave")

    clock[0] = start + 31 + bot.ui.CLOCK_MARGIN_SECONDS
    expired = await late.click("Confirm")
    assert expired.message is not None
    assert late.message is not None
    assert expired.message.id == late.message.id  # the prompt itself was updated
    assert [b.disabled for b in expired.buttons] == [True, True]
    assert "Delete your profile?" in expired.text  # the question stays, its buttons are off
    (notice,) = expired.followups
    assert notice.ephemeral
    assert "These buttons have expired. Run /leave again." in str(notice.embeds)
    assert await _has_profile(bulletin, emulator, alice)

    # Another process's clock may run a little behind: the margin keeps the buttons usable.
    clock[0] = start + 30 + bot.ui.CLOCK_MARGIN_SECONDS
    kept = await just_in_time.click("Cancel")
    assert "Nothing was deleted" in kept.text


@pytest.mark.parametrize(
    "custom_id",
    [
        "b1:gone:1",  # a feature since removed
        "b1:leave:y:alice:1",  # a known name with a payload no template accepts
        "b1:myposts:1:x:1:1",
        "b1:" + "9" * 97,
    ],
)
async def test_an_unknown_button_with_the_prefix_answers_that_it_expired(
    bulletin: Bulletin, emulator: Emulator, custom_id: str
) -> None:
    alice = await _registered(emulator)
    prompt = await alice.run("/leave")
    _as_left_by_an_older_bot(emulator, prompt, {"Confirm": custom_id})
    reply = await prompt.click("Confirm")
    assert reply.ephemeral
    assert reply.text == EXPIRED_BUTTON
    assert reply.message is not None
    assert prompt.message is not None
    assert reply.message.id != prompt.message.id  # the prompt itself is left as it was
    assert await _has_profile(bulletin, emulator, alice)


async def test_page_buttons_sent_before_the_prefix_still_turn(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator, posts=7)
    first = await alice.run("/myposts")
    old_forms: dict[str, str] = {}
    for button in first.buttons:
        assert button.label is not None
        assert button.custom_id is not None
        old_forms[button.label] = button.custom_id.removeprefix(PREFIX)
    assert old_forms["Next"].startswith("myposts:")
    _as_left_by_an_older_bot(emulator, first, old_forms)
    second = await first.click("Next")
    assert second.embeds[0]["footer"]["text"].startswith("Page 2 of 2")
    assert all(b.custom_id and b.custom_id.startswith(PREFIX) for b in second.buttons)


class _Ban(ConfirmButton, action="test-ban"):
    """A confirmation with an argument, as moderation's will have."""

    async def on_confirm(self, interaction: discord.Interaction[Any], reply: BotReply) -> None:
        await reply.send(embed=success_embed(f"Acted on {self.arg}."))


async def test_the_fallback_follows_the_items_the_bot_registers(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """A cog loaded (or unloaded) at run time changes what counts as unknown."""
    alice = await _registered(emulator)
    prompt = await alice.run("/leave")
    ban = _Ban(alice.user.id, int(bot.ui.unix_now()) + 60, confirm=True, arg="42")
    _as_left_by_an_older_bot(emulator, prompt, {"Confirm": ban.custom_id})
    assert (await prompt.click("Confirm")).text == EXPIRED_BUTTON
    bulletin.add_dynamic_items(_Ban)
    bulletin.remove_dynamic_items(_Ban)
    assert (await prompt.click("Confirm")).text == EXPIRED_BUTTON
    bulletin.add_dynamic_items(_Ban)
    try:
        acted = await prompt.click("Confirm")
    finally:
        bulletin.remove_dynamic_items(_Ban)
    assert acted.text == "Acted on 42."
    assert acted.followups == []  # answered once: by _Ban, not also by the fallback


def test_the_fallback_leaves_out_exactly_the_known_templates() -> None:
    template = expired_fallback([PageButton, LeaveButton]).__discord_ui_compiled_template__
    known = ["b1:myposts:1:o:2:3", "b1:leave:y:1:2", "b1:leave:n:1:2:x.y"]
    unknown = [
        "b1:",
        "b1:gone",
        "b1:myposts:1:o:2:3:4",
        "b1:leave:y:1:2:",
        "b1:leave:y:1:2\n",
        "b1:leave:y:1:2:two words",
    ]
    assert [c for c in known if template.fullmatch(c)] == []
    assert [c for c in unknown if not template.fullmatch(c)] == []
    # Without the prefix a custom_id is not the bot's to answer (old pages are known anyway).
    assert template.fullmatch("myposts:1:o:2:3") is None
    assert template.fullmatch("other") is None


async def test_a_confirmation_keeps_everything_in_at_most_100_characters() -> None:
    owner, expires = 2**64 - 1, 10**11 - 1
    arg = "1" * 20 + ":" + "x" * 24
    longest = _Ban(owner, expires, confirm=False, arg=arg)
    assert len(longest.custom_id) <= 100
    match = _Ban.__discord_ui_compiled_template__.fullmatch(longest.custom_id)
    assert match is not None
    again = await _Ban.from_custom_id(cast(Any, None), longest.item, match)
    assert (again.owner_id, again.expires_at, again.confirm, again.arg) == (
        owner,
        expires,
        False,
        arg,
    )
    with pytest.raises(ValueError, match="longer than 100"):
        _Ban(owner, expires, confirm=True, arg=arg + "x" * 40)
    with pytest.raises(ValueError, match="arg"):
        _Ban(owner, expires, confirm=True, arg="two words")
    with pytest.raises(ValueError, match="action"):

        class _Bad(ConfirmButton, action="Has:Colon"):
            pass
