"""Shards in one process and across processes, in-process against the emulator: the count
Discord recommends, who syncs the commands, and the IDENTIFY pace shared through PostgreSQL.

(``test_cluster.py`` runs the same as real processes.)
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.db.migrate import upgrade
from sandbox import Emulator
from tests.conftest import empty_postgres
from tests.e2e.conftest import BotRunner


def _shard_field(text: str) -> str:
    return text.split("Shard\n", 1)[1].split("\n", 1)[0]


@pytest.mark.emulator(max_guilds_per_shard=1)
async def test_auto_runs_the_shard_count_discord_recommends(
    runner: BotRunner, emulator: Emulator
) -> None:
    assert emulator.gateway.recommended_shards() == 2
    async with runner.run() as bot:  # SHARD_COUNT unset: auto
        assert (bot.shard_count, bot.recommended_shards) == (2, 2)
        assert sorted(bot.shards) == [0, 1]
        alpha = await emulator.member("alice", guild="alpha").run("/about")
        beta = await emulator.member("alice", guild="beta").run("/about")
    assert "1 of 2" in _shard_field(alpha.text)
    assert "2 of 2" in _shard_field(beta.text)
    assert emulator.gateway.refused_identifies == 0


async def test_an_explicit_count_is_kept(runner: BotRunner, emulator: Emulator) -> None:
    async with runner.run(shard_count=3) as bot:
        assert (bot.shard_count, bot.recommended_shards) == (3, 1)
        assert sorted(bot.shards) == [0, 1, 2]


async def test_only_the_process_running_shard_zero_syncs(
    runner: BotRunner, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.client")
    async with runner.run(shard_count=2, shard_ids=(1,)):
        assert emulator.command_puts == []
    assert "synced by the process that runs shard 0" in caplog.text
    async with runner.run(shard_count=2, shard_ids=(0,)):
        assert len(emulator.command_puts) == 1


@pytest.mark.emulator(identify_interval=5.0)
async def test_two_processes_identify_one_turn_apart(emulator: Emulator, postgres_url: str) -> None:
    """Two bots started at the same moment, each with one shard of bucket 0: without a shared
    pace both IDENTIFY at once (each is its process's first) and Discord refuses one."""
    await empty_postgres(postgres_url)
    await upgrade(postgres_url)
    runner = BotRunner(emulator, postgres_url)
    try:
        await asyncio.gather(
            runner.start(shard_count=2, shard_ids=(0,), migrate=False),
            runner.start(shard_count=2, shard_ids=(1,), migrate=False),
        )
        assert emulator.gateway.refused_identifies == 0
        assert sorted(s.shard_id for s in emulator.gateway.identified) == [0, 1]
        for guild in ("alpha", "beta"):
            reply = await emulator.member("alice", guild=guild).run("/register", name="Ann", age=30)
            assert "Welcome" in reply.content
    finally:
        await runner.stop_all()
