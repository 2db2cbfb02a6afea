"""Moderation of content, end to end on both databases: posts take their message with them,
moderators remove posts and profiles, blocks hold, the member list pages, and /mydata gives
each member what the bot stores about them."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import bindparam, update

from bot.client import Bulletin
from bot.db import posts as post_queries
from bot.db import users as user_queries
from bot.db.blocks import get_block
from bot.db.models import Post
from bot.db.statements import Query, Statement, nothing
from bot.services import cases, content
from sandbox import Emulator, MemberDriver, Reply
from tests.e2e.conftest import BotRunner
from tests.support import add_posts


async def _registered(emulator: Emulator, name: str = "alice") -> MemberDriver:
    member = emulator.member(name)
    await member.run("/register", name=name.title(), age=30)
    return member


async def _post(member: MemberDriver, title: str) -> tuple[int, Reply]:
    reply = await member.run("/post", title=title)
    post_id = int(reply.embeds[0]["footer"]["text"].removeprefix("Post #"))
    return post_id, reply


def _gone(reply: Reply) -> bool:
    return reply.refresh().deleted


def _file(reply: Reply, name: str) -> bytes:
    assert reply.message is not None
    return reply.message.file(name)


async def test_a_post_remembers_its_message_and_deletepost_deletes_it(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    post_id, announced = await _post(alice, "Hello there")
    [stored] = await bulletin.db.read_one(
        post_queries.get_user_posts(emulator.guild().id, alice.user.id)
    )
    assert announced.message is not None
    assert stored.message_id == announced.message.id
    assert stored.channel_id == announced.message.channel_id
    await alice.run("/deletepost", post=str(post_id))
    assert _gone(announced)


async def test_leave_deletes_every_post_message(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    announced = [(await _post(alice, f"p{i}"))[1] for i in range(3)]
    prompt = await alice.run("/leave")
    await prompt.click("Confirm")
    assert all(_gone(reply) for reply in announced)


async def test_a_moderator_deletes_any_post_with_a_case_on_its_author(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    post_id, announced = await _post(alice, "spam")
    reply = await emulator.member("moderator").run(
        "/mod deletepost", post_id=post_id, reason="spam"
    )
    assert "Case #1" in reply.text
    assert _gone(announced)
    [case] = await cases.history(bulletin.db, emulator.guild().id, alice.user.id)
    assert (case.kind, case.reason) == ("post_removed", "spam")
    # The author sees it in /mycases.
    assert "Post removed" in (await alice.run("/mycases")).text


async def test_deletepost_refusals_change_nothing(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = await _registered(emulator)
    post_id, announced = await _post(alice, "mine")
    no_permission = await emulator.member("bob").run(
        "/mod deletepost", post_id=post_id, reason="x", force=True
    )
    assert "Manage Messages" in no_permission.text
    other_guild = await emulator.member("moderator", "beta").run(
        "/mod deletepost", post_id=post_id, reason="x"
    )
    assert "no post" in other_guild.text
    missing = await emulator.member("moderator").run(
        "/mod deletepost", post_id=post_id + 1000, reason="x"
    )
    assert "no post" in missing.text
    assert not _gone(announced)
    guild = emulator.guild().id
    assert await bulletin.db.read_one(post_queries.count_posts(guild, alice.user.id)) == 1
    assert await cases.history(bulletin.db, guild, alice.user.id) == []


async def test_purge_asks_then_deletes_every_post_and_message(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    announced = [(await _post(alice, f"p{i}"))[1] for i in range(4)]
    moderator = emulator.member("moderator")
    cancelled = await moderator.run("/mod purgeposts", member="alice", reason="flood")
    assert "4 posts" in cancelled.text
    await cancelled.click("Cancel")
    guild = emulator.guild().id
    assert await bulletin.db.read_one(post_queries.count_posts(guild, alice.user.id)) == 4
    question = await moderator.run("/mod purgeposts", member="alice", reason="flood")
    done = await question.click("Confirm")
    assert "4 posts deleted" in done.text
    assert await bulletin.db.read_one(post_queries.count_posts(guild, alice.user.id)) == 0
    await emulator.wait_until(lambda: all(_gone(r) for r in announced), timeout=10)
    [case] = await cases.history(bulletin.db, guild, alice.user.id)
    assert case.kind == "posts_purged"


async def test_remove_profile_asks_then_removes_it_as_leave_does(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    _, announced = await _post(alice, "last words")
    question = await emulator.member("moderator").run(
        "/mod removeprofile", member="alice", reason="impersonation"
    )
    done = await question.click("Confirm")
    assert "the profile and 1 post were deleted" in done.text
    guild = emulator.guild().id
    assert await bulletin.db.read_one(user_queries.get_user_or_none(guild, alice.user.id)) is None
    await emulator.wait_until(lambda: _gone(announced), timeout=10)


async def test_a_block_stops_register_rename_and_post_and_outlives_leave(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    moderator = emulator.member("moderator")
    blocked = await moderator.run("/mod block", member="alice", reason="abuse")
    assert "Case #1" in blocked.text
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("/post", {"title": "x"}),
        ("/rename", {"name": "Evil"}),
    ]
    for command, options in attempts:
        reply = await alice.run(command, **options)
        assert reply.ephemeral
        assert "stopped you" in reply.text
    prompt = await alice.run("/leave")
    await prompt.click("Confirm")
    again = await alice.run("/register", name="Back", age=30)
    assert "stopped you" in again.text
    guild = emulator.guild().id
    assert await bulletin.db.read_one(user_queries.get_user_or_none(guild, alice.user.id)) is None
    assert await bulletin.db.read_one(get_block(guild, alice.user.id)) is not None
    unblocked = await moderator.run("/mod unblock", member="alice")
    assert "Case #2" in unblocked.text
    assert "Welcome" in (await alice.run("/register", name="Back", age=30)).content


async def test_a_block_racing_a_post_is_told_truthfully(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _registered(emulator)
    moderator = emulator.member("moderator")
    post, _ = await asyncio.gather(
        alice.run("/post", title="race"),
        moderator.run("/mod block", member="alice", reason="race"),
    )
    stored = await bulletin.db.read_one(
        post_queries.count_posts(emulator.guild().id, alice.user.id)
    )
    if "stopped you" in post.text:
        assert stored == 0
    else:
        assert post.embeds[0]["title"].endswith("race")
        assert stored == 1


async def test_mod_users_filters_and_pages_across_a_restart(
    runner: BotRunner, emulator: Emulator
) -> None:
    bot = await runner.start()
    guild = emulator.guild().id
    await bot.db.write_one(
        user_queries.add_many_users(guild, [(1000 + i, f"member {i:02}", 30) for i in range(15)])
    )
    await bot.db.write_one(user_queries.add_many_users(guild, [(2000, "Zed", 30)]))
    moderator = emulator.member("moderator")
    filtered = await moderator.run("/mod users", name="ZE")
    assert "Zed" in filtered.text
    assert "member 0" not in filtered.text
    first = await moderator.run("/mod users")
    assert "member 00" in first.text
    assert "member 10" not in first.text
    await runner.stop(bot)
    await runner.start()
    second = await first.click("Next")
    assert "member 10" in second.text
    assert "member 00" not in second.text
    # Sixteen names, ten a page: every name on exactly one of the two pages.
    names = [
        line.split(" · ")[0]
        for line in (first.text + "\n" + second.text).splitlines()
        if " · " in line
    ]
    assert len(names) == len(set(names)) == 16
    refused = await emulator.member("alice").run("/mod users", force=True)
    assert "Manage Messages" in refused.text


async def test_mydata_matches_the_database(bulletin: Bulletin, emulator: Emulator) -> None:
    nobody = await emulator.member("bob").run("/mydata")
    empty = json.loads(_file(nobody, "bulletin-data.json"))
    assert empty["format_version"] == 1
    assert (empty["profile"], empty["posts"], empty["blocks"], empty["cases"]) == (
        None,
        [],
        [],
        [],
    )
    alice = await _registered(emulator)
    for i in range(3):
        await _post(alice, f"post {i}")
    moderator = emulator.member("moderator")
    await moderator.run("/mod note", member="alice", text="secret note")
    await moderator.run("/mod warn", member="alice", reason="be nice")
    mine = await alice.run("/mydata")
    assert mine.ephemeral
    data = json.loads(_file(mine, "bulletin-data.json"))
    guild = emulator.guild().id
    profile = await bulletin.db.read_one(user_queries.get_user(guild, alice.user.id))
    stored = await bulletin.db.read_one(post_queries.all_member_posts(guild, alice.user.id))
    assert data["profile"]["name"] == profile.name
    assert data["profile"]["post_count"] == 3
    assert [(p["id"], p["title"]) for p in data["posts"]] == [(p.id, p.title) for p in stored]
    assert [c["kind"] for c in data["cases"]] == ["warn"]
    text = json.dumps(data)
    assert "secret note" not in text
    assert str(moderator.user.id) not in text


async def test_mydata_too_large_for_one_file_comes_in_parts(
    bulletin: Bulletin, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past Discord's limit even compressed (100,000 everyday posts are about 15 MB
    compressed), the posts are split across files, each in a message of its own."""
    alice = await _registered(emulator)
    for i in range(12):
        # Text that does not compress away: a few hundred bytes of it in every post.
        body = " ".join(hashlib.sha256(f"{i}-{k}".encode()).hexdigest() for k in range(6))
        await alice.run("/post", title=f"post {i}", body=body)
    monkeypatch.setattr(content, "ATTACHMENT_LIMIT", 1200)
    reply = await alice.run("/mydata")
    assert reply.message is not None
    messages = [reply.message, *reply.followups]
    assert len(messages) >= 2
    assert all(m.ephemeral for m in messages)
    assert f"It comes in {len(messages)} files" in reply.text
    parts = [
        json.loads(gzip.decompress(m.file(f"bulletin-data-part-{n}-of-{len(messages)}.json.gz")))
        for n, m in enumerate(messages, 1)
    ]
    guild = emulator.guild().id
    stored = await bulletin.db.read_one(post_queries.all_member_posts(guild, alice.user.id))
    assert [p["id"] for d in parts for p in d["posts"]] == [p.id for p in stored]
    assert all(d["profile"]["post_count"] == 12 for d in parts)


_ANNOUNCED = Statement(
    update(Post)
    .where(Post.id == bindparam("post_id"))
    .values(channel_id=bindparam("channel_id"), message_id=bindparam("message_id")),
    name="test_announced",
)


async def test_a_purge_of_10000_posts_is_one_statement_and_100_bulk_deletes(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """The scale the issue names: the database deletes in one statement, the messages go
    100 at a time in the background, and other members are answered meanwhile."""
    alice = await _registered(emulator)
    guild = emulator.guild()
    channel = guild.channels[0]
    user = await bulletin.db.read_one(user_queries.get_user(guild.id, alice.user.id))
    rows = [{"user_id": user.id, "guild_id": guild.id, "title": f"p{n}"} for n in range(10_000)]
    await add_posts(bulletin.db, rows)  # posts as /post leaves them, messages added below
    stored = await bulletin.db.read_one(post_queries.all_member_posts(guild.id, alice.user.id))
    messages = [
        emulator.state.create_message(
            channel_id=channel.id, guild_id=guild.id, body={"content": p.title}, files=[]
        )
        for p in stored
    ]
    async with bulletin.db.write() as unit:
        links = [
            {"post_id": p.id, "channel_id": channel.id, "message_id": m.id}
            for p, m in zip(stored, messages, strict=True)
        ]
        await unit.run(Query(_ANNOUNCED, {}, nothing, many=links))

    question = await emulator.member("moderator").run(
        "/mod purgeposts", member="alice", reason="flood"
    )
    assert "10000 posts" in question.text
    deletes: list[str] = []
    forget = bulletin.db.listen(lambda sql: deletes.append(sql) if "DELETE" in sql else None)
    try:
        done = await question.click("Confirm")
    finally:
        forget()
    assert "10000 posts deleted" in done.text
    assert [sql.split()[2] for sql in deletes] == ["pending_confirmations", "posts"]
    # Meanwhile, in the background: another member is answered within Discord's 3 s.
    bob = await _registered(emulator, "bob")
    profile = await bob.run("/profile")
    assert profile.interaction.answered_in_time
    await emulator.wait_until(lambda: all(m.deleted for m in messages), timeout=120)
    bulk = [r for r in emulator.requests if r.path.endswith("/messages/bulk-delete")]
    assert len(bulk) == 100
    await emulator.wait_until(lambda: len(done.refresh().followups) == 1, timeout=10)
    assert "10000 post messages deleted" in str(done.refresh().followups[0].embeds)
