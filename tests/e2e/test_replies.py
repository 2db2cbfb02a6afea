"""Answers come first; a deferral only when the answer is late, with the answer's visibility.

The slow path is made honestly: another connection holds a lock the command needs (SQLite's
write lock, or a PostgreSQL table lock), so the database really is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import discord
import pytest
from sqlalchemy.engine import make_url

from bot.client import Bulletin
from bot.db.database import sqlite_path
from bot.replies import _stop_if_dynamic
from bot.services.posts import Direction
from cogs.posts import PageButton
from sandbox import Emulator
from tests.e2e.conftest import BotRunner

CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
UPDATE_MESSAGE = 7
EPHEMERAL = 64


def _answers(emulator: Emulator) -> list[tuple[str, int | None, int]]:
    """(method, callback type, flags) of every request answering an interaction."""
    found = []
    for record in emulator.requests:
        if record.path.startswith("/interactions"):
            body: dict[str, Any] = record.body or {}
            data = body.get("data") or {}
            found.append(("POST", body.get("type"), int(data.get("flags") or 0)))
        elif record.path.startswith("/webhooks"):
            found.append((record.method, None, 0))
    return found


@contextlib.asynccontextmanager
async def database_held(url: str) -> AsyncIterator[None]:
    """Another connection holds what a write needs until the block ends."""
    path = sqlite_path(url)
    if path is not None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    other_pg = await asyncpg.connect(dsn)
    try:
        transaction = other_pg.transaction()
        await transaction.start()
        await other_pg.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await other_pg.close()


async def test_fast_commands_answer_in_one_request(bulletin: Bulletin, emulator: Emulator) -> None:
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    await alice.run("/post", title="Hello")
    await alice.run("/profile")
    await alice.run("/myposts")
    await alice.run("/about")
    # One callback each, a message (type 4) straight away: no "thinking…", no edit.
    assert _answers(emulator) == [
        ("POST", CHANNEL_MESSAGE, EPHEMERAL),
        ("POST", CHANNEL_MESSAGE, 0),
        ("POST", CHANNEL_MESSAGE, EPHEMERAL),
        ("POST", CHANNEL_MESSAGE, EPHEMERAL),
        ("POST", CHANNEL_MESSAGE, EPHEMERAL),
    ]


async def test_a_slow_database_makes_the_deferral_fire(
    runner: BotRunner, emulator: Emulator
) -> None:
    await runner.start(defer_after_seconds=0.1)
    alice = emulator.member("alice")
    async with database_held(runner.database_url):
        pending = asyncio.create_task(alice.run("/register", name="Ann", age=30))
        await asyncio.sleep(0.6)  # well past the deferral, while the write waits
        assert _answers(emulator) == [("POST", DEFERRED_CHANNEL_MESSAGE, EPHEMERAL)]
    reply = await pending
    assert "Welcome" in reply.content
    assert reply.ephemeral
    assert reply.interaction.answered_in_time
    assert _answers(emulator) == [
        ("POST", DEFERRED_CHANNEL_MESSAGE, EPHEMERAL),
        ("PATCH", None, 0),
    ]


async def test_a_public_answer_after_a_deferral_stays_public(
    runner: BotRunner, emulator: Emulator
) -> None:
    await runner.start(defer_after_seconds=0.1)
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    emulator.requests.clear()
    async with database_held(runner.database_url):
        pending = asyncio.create_task(alice.run("/post", title="Hello there"))
        await asyncio.sleep(0.6)
    reply = await pending
    assert not reply.ephemeral
    assert reply.embeds[0]["title"].endswith("Hello there")
    assert _answers(emulator) == [("POST", DEFERRED_CHANNEL_MESSAGE, 0), ("PATCH", None, 0)]


class _Unprefixed(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"legacy:\d+"):
    """A DynamicItem whose custom_id lacks the prefix: once unknown, nothing would answer it."""


async def test_a_view_with_an_ordinary_or_unprefixed_button_is_refused() -> None:
    """An ordinary button dies with the process; beside DynamicItems, its view's timeout
    would also unregister their classes for the whole process."""
    mixed = discord.ui.View(timeout=None)
    mixed.add_item(PageButton(1, Direction.OLDER, 10, 1))
    mixed.add_item(discord.ui.Button(label="Other", custom_id="other"))
    with pytest.raises(ValueError, match="die with the process"):
        _stop_if_dynamic(mixed)
    alone = discord.ui.View(timeout=None)
    alone.add_item(discord.ui.Button(label="Other", custom_id="other"))
    with pytest.raises(ValueError, match="die with the process"):
        _stop_if_dynamic(alone)
    unprefixed = discord.ui.View(timeout=None)
    unprefixed.add_item(_Unprefixed(discord.ui.Button(label="Old", custom_id="legacy:1")))
    with pytest.raises(ValueError, match="must start with 'b1:'"):
        _stop_if_dynamic(unprefixed)
    only_dynamic = discord.ui.View(timeout=None)
    only_dynamic.add_item(PageButton(1, Direction.OLDER, 10, 1))
    only_dynamic.add_item(discord.ui.Button(label="Docs", url="https://example.com/"))
    _stop_if_dynamic(only_dynamic)
    assert only_dynamic.is_finished()


async def test_page_buttons_survive_every_kept_view_timing_out(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """discord.py keeps a view sent in an ephemeral first response for 15 minutes, and its
    timeout would unregister the DynamicItem classes it holds for the whole process."""
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    for i in range(7):
        await alice.run("/post", title=f"post {i}")
    first = await alice.run("/myposts")
    assert first.interaction.response_type == CHANNEL_MESSAGE
    gc.collect()
    live = [o for o in gc.get_objects() if isinstance(o, discord.ui.View) and not o.is_finished()]
    # Nothing of the page's view is kept listening, so nothing of it can time out.
    assert not [v for v in live if any(isinstance(i, discord.ui.DynamicItem) for i in v.children)]
    # And what 15 minutes would do to whatever else is kept changes nothing.
    for view in live:
        await view.on_timeout()
        view.stop()
        bulletin._connection._view_store.remove_view(view)
    # (By name: the bot loaded its own copy of cogs.posts as an extension.)
    registered = bulletin._connection._view_store._dynamic_items.values()
    assert PageButton.__qualname__ in {item.__qualname__ for item in registered}
    older = await first.click("Next")
    assert older.embeds[0]["footer"]["text"].startswith("Page 2 of 2")
