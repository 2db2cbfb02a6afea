"""Buttons that outlive the process: every button the bot sends keeps working after a restart,
or answers that it has expired (issue 9, section 2)."""

from __future__ import annotations

from typing import Any, cast

import discord
import pytest

import bot.ui
from bot.client import Bulletin
from bot.db.users import get_user_or_none
from bot.replies import Reply as BotReply
from bot.ui import ConfirmButton
from sandbox import Emulator
from sandbox.driver import MemberDriver
from tests.e2e.conftest import BotRunner


async def _registered(emulator: Emulator, name: str = "alice", posts: int = 0) -> MemberDriver:
    member = emulator.member(name)
    await member.run("/register", name=name.title(), age=30)
    for i in range(posts):
        await member.run("/post", title=f"post {i}")
    return member


async def _has_profile(bulletin: Bulletin, emulator: Emulator, member: MemberDriver) -> bool:
    found = await bulletin.db.read_one(get_user_or_none(emulator.guild().id, member.user.id))
    return found is not None


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


class _Ban(ConfirmButton, action="test-ban"):
    """A confirmation with an argument, as moderation's will have (never registered)."""

    async def on_confirm(self, interaction: discord.Interaction[Any], reply: BotReply) -> None:
        raise NotImplementedError


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
