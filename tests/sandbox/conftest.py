"""Fixtures for the sandbox's own tests: a fresh emulator and real discord.py bots on it.

``@pytest.mark.sandbox_emulator(ack_deadline=0.3, shard_count=2)`` tunes the emulator
of one test. Teardown closes every bot, then the emulator, then checks discord.py is
pointed back at Discord and no task was left running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from sandbox import Emulator
from tests.sandbox.sandbox_testbot import BotFactory, SandboxBot
from tests.support import assert_no_leaked_tasks


def pytest_configure(config: pytest.Config) -> None:
    """Register this folder's marker (the project runs with --strict-markers)."""
    config.addinivalue_line(
        "markers", "sandbox_emulator(**settings): Emulator constructor arguments"
    )


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """A started emulator with discord.py pointed at it; restores discord.py afterwards."""
    marker = request.node.get_closest_marker("sandbox_emulator")
    # The SandboxBot skips discord.py's 5 s pause between IDENTIFYs, so the emulator's own
    # identify rate limit is off unless a test asks for it.
    settings: dict[str, Any] = {"quiet_period": 0.03, "identify_interval": 0.0}
    if marker is not None:
        settings.update(marker.kwargs)
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    before = asyncio.all_tasks()
    async with Emulator(**settings) as emulator:
        assert emulator.api_url == discord.http.Route.BASE
        yield emulator
        assert emulator.internal_errors == []
    assert base == discord.http.Route.BASE
    assert gateway == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    await assert_no_leaked_tasks(before)


@pytest.fixture
async def start_bot(emu: Emulator) -> AsyncIterator[BotFactory]:
    """Start SandboxBots against the emulator; every one is closed at teardown."""
    started: list[tuple[SandboxBot, asyncio.Task[None]]] = []

    async def start(**options: Any) -> SandboxBot:
        options.setdefault("sync_guild_id", emu.guild("alpha").id)
        bot = SandboxBot(**options)
        await bot.login(emu.token)
        task = asyncio.create_task(bot.connect(reconnect=False))
        started.append((bot, task))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
            if task.done():
                task.result()
            raise AssertionError("the bot did not become ready")
        return bot

    yield start
    for bot, task in started:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, discord.ConnectionClosed):
            await task


@pytest.fixture
async def bot(start_bot: BotFactory) -> SandboxBot:
    """One ready bot on one shard, commands synced globally and to guild alpha."""
    return await start_bot()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTP client, for speaking to the emulator without discord.py."""
    async with aiohttp.ClientSession() as session:
        yield session
