"""The real bot, with its real cogs and a real database, against the loopback Discord.

``bulletin`` runs ``Bulletin`` in-process on the test's backend (SQLite and PostgreSQL),
pointed at ``sandbox.Emulator``; the test then plays members through ``emulator.member(...)``.
After every test the recordings are checked suite-wide: no body Discord would reject, every
interaction answered within the deadline, no message that could ping. A test that provokes
one of those on purpose says so with ``@pytest.mark.discord_rejections`` or
``@pytest.mark.late_answers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.client import Bulletin
from bot.config import Settings
from bot.db import Database
from bot.db.migrate import upgrade
from sandbox import Emulator
from tests.conftest import statement_log
from tests.support import assert_no_leaked_tasks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "discord_rejections: the test makes Discord refuse a body")
    config.addinivalue_line("markers", "late_answers: the test answers an interaction late")
    config.addinivalue_line("markers", "emulator(**settings): Emulator constructor arguments")


class BotRunner:
    """Starts and stops ``Bulletin`` against one emulator and one database URL."""

    def __init__(self, emulator: Emulator, database_url: str) -> None:
        self.emulator = emulator
        self.database_url = database_url
        self.settings = Settings(
            token=emulator.token,
            database_url=database_url,
            post_cooldown_seconds=0,
            confirm_timeout_seconds=30,
        )
        self._running: list[tuple[Bulletin, asyncio.Task[None]]] = []

    @contextlib.asynccontextmanager
    async def run(self, **changes: Any) -> AsyncIterator[Bulletin]:
        """A started, ready bot; ``changes`` override settings (e.g. a cooldown)."""
        bot = await self.start(**changes)
        try:
            yield bot
        finally:
            await self.stop(bot)

    async def start(
        self,
        *,
        client_options: dict[str, Any] | None = None,
        migrate: bool = True,
        **changes: Any,
    ) -> Bulletin:
        """Start a bot; ``changes`` override settings, ``client_options`` go to discord.py.

        ``migrate=False`` for bots started together: Alembic's context is one per process.
        """
        settings = dataclasses.replace(self.settings, **changes)
        db = Database(settings.database_url, deadline=settings.database_deadline_seconds)
        if migrate:
            await upgrade(db)
        options: dict[str, Any] = {
            "guild_ready_timeout": 0.05,
            # The emulator's pace (0 unless a test turns Discord's on), not Discord's own 5 s.
            "identify_interval": self.emulator.settings.identify_interval,
            **(client_options or {}),
        }
        bot = Bulletin(settings, db=db, **options)
        task = asyncio.create_task(bot.start(self.emulator.token), name="bulletin-under-test")
        self._running.append((bot, task))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            task.result()  # raises what stopped the bot
        if ready not in done:
            ready.cancel()
            raise TimeoutError("the bot did not become ready against the emulator")
        return bot

    async def stop(self, bot: Bulletin) -> None:
        for entry in list(self._running):
            if entry[0] is bot:
                self._running.remove(entry)
                await bot.close()
                await asyncio.wait_for(entry[1], timeout=10)

    async def stop_all(self) -> None:
        for bot, _ in list(self._running):
            await self.stop(bot)


@pytest.fixture
async def emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    marker = request.node.get_closest_marker("emulator")
    # Restarting a bot within 5 s makes the emulator answer its IDENTIFY with op 9, as Discord
    # does, and discord.py then waits 5 s more; tests that are not about that pace turn the
    # limit off (``@pytest.mark.emulator(identify_interval=5.0)`` turns it back on).
    settings: dict[str, Any] = {"identify_interval": 0.0}
    if marker is not None:
        settings.update(marker.kwargs)
    before = asyncio.all_tasks()
    async with Emulator(**settings) as emu:
        yield emu
        assert emu.internal_errors == [], "the emulator itself failed"
    await assert_no_leaked_tasks(before)


@pytest.fixture
async def runner(
    emulator: Emulator, empty_database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[BotRunner]:
    bots = BotRunner(emulator, empty_database_url)
    try:
        yield bots
    finally:
        await bots.stop_all()
    if request.node.get_closest_marker("discord_rejections") is None:
        assert emulator.violations == [], "the bot sent something Discord would refuse"
    if request.node.get_closest_marker("late_answers") is None:
        assert emulator.unanswered() == [], "an interaction was not answered in time"
    assert emulator.pings() == [], "a message could ping someone"
    assert emulator.unknown_routes == [], "the bot called a route Discord does not have"


@pytest.fixture
async def bulletin(runner: BotRunner) -> AsyncIterator[Bulletin]:
    async with runner.run() as bot:
        yield bot


# The statement log of tests/conftest.py, for a running bot's database.
counting_statements = statement_log
