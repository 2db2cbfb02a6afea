"""Bulletin as a cluster: ``python -m bot run`` processes sharing the shards and one database.

Two processes, shard 0 and shard 1 of 2, one PostgreSQL database and the emulator at Discord's
IDENTIFY pace (``identify_interval=5.0``), so the turns the processes take through the
database are really exercised: each guild is served by its own process, both write to one
database, one process syncs the commands, and a process killed with SIGKILL comes back with a
new IDENTIFY, having lost or doubled no write it confirmed. And a process that asks for too
few shards is refused with 4011 and says so in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.cli import EXIT_CONFIG
from sandbox import Emulator, NoAnswerError, Reply
from tests.conftest import _asyncpg_dsn, empty_postgres
from tests.e2e.test_process import BotProcess

READY_TIMEOUT = 60.0
# Long enough for a live process to answer on a busy machine; an interaction sent to a shard
# whose process is down waits this long for an answer that never comes.
ANSWER_TIMEOUT = 4.0


def _shard_process(emulator: Emulator, url: str, shard: int, count: int = 2) -> BotProcess:
    env = {
        "SHARD_COUNT": str(count),
        "SHARD_IDS": str(shard),
        "LOG_LEVEL": "INFO",
        "POST_COOLDOWN_SECONDS": "0",
    }
    return BotProcess(emulator, url, env=env)


@contextlib.asynccontextmanager
async def _cluster(emulator: Emulator, url: str) -> AsyncIterator[list[BotProcess]]:
    """Shard 0's and shard 1's processes, started at the same moment and ready."""
    processes = [_shard_process(emulator, url, shard) for shard in (0, 1)]
    try:
        await asyncio.gather(*(p.start() for p in processes))
        await emulator.wait_until_ready(sessions=2, timeout=READY_TIMEOUT)
        yield processes
    finally:
        for process in processes:
            if process.process is not None and process.process.returncode is None:
                await process.stop()


async def _rows(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


def _shard_shown(reply: Reply) -> str:
    return reply.text.split("Shard\n", 1)[1].split("\n", 1)[0]


@pytest.fixture
async def cluster_url(postgres_url: str) -> str:
    await empty_postgres(postgres_url)
    return postgres_url


@pytest.mark.emulator(identify_interval=5.0)
async def test_two_processes_serve_their_shards_into_one_database(
    emulator: Emulator, cluster_url: str
) -> None:
    async with _cluster(emulator, cluster_url) as (first, second):
        # Both started at once, both first IDENTIFYs of their process: Discord refused none.
        assert emulator.gateway.refused_identifies == 0
        assert sorted(s.shard_id for s in emulator.gateway.identified) == [0, 1]
        assert "Running shard(s) [0] of 2" in first.stderr
        assert "Running shard(s) [1] of 2" in second.stderr

        alpha, beta = emulator.member("alice", "alpha"), emulator.member("alice", "beta")
        assert _shard_shown(await alpha.run("/about")) == "1 of 2"
        assert _shard_shown(await beta.run("/about")) == "2 of 2"
        for member, name in ((alpha, "Ann of alpha"), (beta, "Ann of beta")):
            assert "Welcome" in (await member.run("/register", name=name, age=30)).content
        for member, title in ((alpha, "alpha one"), (alpha, "alpha two"), (beta, "beta one")):
            posted = await member.run("/post", title=title)
            assert posted.embeds[0]["footer"]["text"].startswith("Post #"), posted.text
        beta_profile = await beta.run("/profile")
        assert beta_profile.embeds[0]["title"] == "Ann of beta"
        statuses = [await p.stop() for p in (first, second)]
    assert statuses == [0, 0], first.stderr + second.stderr

    rows = await _rows(
        cluster_url,
        "SELECT u.guild_id, u.name, count(p.id) AS posts FROM users u "
        "LEFT JOIN posts p ON p.user_id = u.id GROUP BY u.guild_id, u.name ORDER BY u.name",
    )
    guilds = {emulator.guild(g).id: g for g in ("alpha", "beta")}
    assert [(guilds[r["guild_id"]], r["name"], r["posts"]) for r in rows] == [
        ("alpha", "Ann of alpha", 2),
        ("beta", "Ann of beta", 1),
    ]
    # Exactly one process synced the commands: the one running shard 0.
    assert len(emulator.command_puts) == 1
    assert f"Synced {len(emulator.command_puts[0].names)} command(s)" in first.stderr
    assert "Synced" not in second.stderr
    assert "synced by the process that runs shard 0" in second.stderr
    for process in (first, second):
        assert "Traceback" not in process.stderr
    assert emulator.violations == []


@pytest.mark.emulator(identify_interval=5.0)
async def test_a_killed_process_comes_back_and_no_confirmed_write_is_lost_or_doubled(
    emulator: Emulator, cluster_url: str
) -> None:
    confirmed: list[str] = []
    attempted: list[str] = []
    beta = emulator.member("erin", "beta")
    in_flight_answered = asyncio.Event()

    async def post(title: str) -> bool:
        attempted.append(title)
        try:
            reply = await beta.run("/post", title=title, timeout=ANSWER_TIMEOUT)
        except NoAnswerError:
            return False
        assert reply.embeds[0]["footer"]["text"].startswith("Post #"), reply.text
        confirmed.append(title)
        if title.startswith("in flight"):
            in_flight_answered.set()
        return True

    async with _cluster(emulator, cluster_url) as (first, second):
        await beta.run("/register", name="Erin", age=30)
        for n in range(3):
            assert await post(f"before {n}")

        # Killed with posts in flight, as soon as the first of them was answered: the others
        # may or may not have been written, but none twice.
        burst = [asyncio.create_task(post(f"in flight {n}")) for n in range(40)]
        await asyncio.wait_for(in_flight_answered.wait(), timeout=READY_TIMEOUT)
        assert second.process is not None
        second.process.send_signal(signal.SIGKILL)
        assert await second.wait() == -signal.SIGKILL
        await asyncio.gather(*burst)

        # While it is down its guild gets no answer, as on Discord; the other shard works on.
        assert not await post("while down")
        reply = await emulator.member("alice", "alpha").run("/register", name="Al", age=40)
        assert "Welcome" in reply.content

        sessions = len(emulator.gateway.identified)
        restarted = _shard_process(emulator, cluster_url, 1)
        await restarted.start()
        try:
            await emulator.wait_until_ready(sessions=sessions + 1, timeout=READY_TIMEOUT)
            comeback = emulator.gateway.identified[-1]
            assert comeback.shard_id == 1
            assert comeback.resumed == 0  # a new session from a new IDENTIFY, not a RESUME
            assert emulator.gateway.refused_identifies == 0
            for n in range(2):
                assert await post(f"after {n}")
            profile = await beta.run("/profile")
        finally:
            assert await restarted.stop() == 0, restarted.stderr
        assert await first.stop() == 0, first.stderr

    titles = [
        r["title"]
        for r in await _rows(
            cluster_url, "SELECT title FROM posts WHERE guild_id = $1", emulator.guild("beta").id
        )
    ]
    assert len(titles) == len(set(titles)), "a post was written twice"
    assert set(confirmed) <= set(titles), "a confirmed post was lost"
    assert set(titles) <= set(attempted)
    assert "while down" not in titles  # nobody received it
    shown = next(f["value"] for f in profile.embeds[0]["fields"] if f["name"] == "Posts")
    assert shown == str(len(titles))
    for process in (first, restarted):
        assert "Traceback" not in process.stderr
    assert emulator.violations == []


@pytest.mark.emulator(max_guilds_per_shard=1)
async def test_too_few_shards_get_4011_and_one_clear_line(
    emulator: Emulator, sqlite_url: str
) -> None:
    bot = BotProcess(emulator, sqlite_url, env={"SHARD_COUNT": "1", "LOG_LEVEL": "INFO"})
    await bot.start()
    status = await bot.wait(timeout=60)
    assert status == EXIT_CONFIG, bot.stderr
    assert [c.close_code for c in emulator.connections if c.close_code == 4011]
    lines = [line for line in bot.stderr.splitlines() if "4011" in line and "ERROR" in line]
    assert len(lines) == 1, bot.stderr
    assert "SHARD_COUNT=1 is too few" in lines[0]
    assert "set SHARD_COUNT=auto or at least 2" in lines[0]
    assert "Traceback" not in bot.stderr
