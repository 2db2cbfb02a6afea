"""Database outages, made for real: members are told plainly, nothing hangs, nothing is
half-written, and the bot recovers by itself when the database is back.

PostgreSQL is reached through a relay that stalls (packets dropped, not refused) or refuses;
SQLite is locked by another process. The deadlines are short here so the tests are quick;
the behaviour is the same at the default two seconds.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, update

from bot.db import Database, deadline_in
from bot.db import cases as case_queries
from bot.db import posts as post_queries
from bot.db import users as user_queries
from bot.db.database import sqlite_path
from bot.db.errors import DatabaseUnavailable, WriteOutcomeUnknown
from bot.db.migrate import upgrade
from bot.db.models import Case, CaseKind
from bot.db.statements import Query, Statement, nothing
from bot.db.types import utcnow
from bot.services import cases as case_service
from reliability.faults import StallRelay
from sandbox import Emulator
from tests.conftest import empty_postgres
from tests.e2e.conftest import BotRunner

FAST: dict[str, Any] = {"database_deadline_seconds": 0.5, "defer_after_seconds": 0.2}
UNAVAILABLE = "temporarily unavailable"
DB_LOG = "bot.db.database"


@pytest.fixture
async def clean_postgres_url(postgres_url: str) -> str:
    await empty_postgres(postgres_url)
    return postgres_url


@pytest.fixture
async def bots(emulator: Emulator) -> AsyncIterator[BotRunner]:
    """Bots on whatever database each test names (``bots.start(database_url=…)``)."""
    runner = BotRunner(emulator, "")
    try:
        yield runner
    finally:
        await runner.stop_all()
    assert emulator.violations == [], "the bot sent something Discord would refuse"
    assert emulator.unanswered() == [], "an interaction was not answered in time"
    assert emulator.pings() == [], "a message could ping someone"


def _outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    lines = [r.getMessage() for r in caplog.records if r.name == DB_LOG]
    return (
        sum("is unavailable" in line for line in lines),
        sum("answers again" in line for line in lines),
    )


async def test_a_stalled_postgresql_is_reported_and_recovered(
    bots: BotRunner, emulator: Emulator, clean_postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with StallRelay(clean_postgres_url) as relay:
        bot = await bots.start(database_url=relay.url, **FAST)
        alice = emulator.member("alice")
        await alice.run("/register", name="Ann", age=30)
        await alice.run("/post", title="Hello there")

        relay.stall()
        with caplog.at_level(logging.INFO, logger=DB_LOG):
            profile = await alice.run("/profile")
            choices = await alice.autocomplete("/deletepost", "post", "Hel")
            post = await alice.run("/post", title="lost?")
            relay.resume()
            # The same bot, no restart: the next command works again.
            after = await alice.run("/profile")
            again = await alice.run("/post", title="after the outage")

        assert UNAVAILABLE in profile.text
        assert profile.ephemeral
        assert profile.interaction.answered_in_time
        assert UNAVAILABLE in post.text
        assert post.ephemeral
        assert choices == []
        assert after.embeds[0]["title"] == "Ann"
        assert again.embeds[0]["title"].endswith("after the outage")
        assert _outage_lines(caplog) == (1, 1)
        stored = await bot.db.read_one(
            post_queries.get_user_posts(emulator.guild().id, alice.user.id, limit=10)
        )
        assert [p.title for p in stored] == ["after the outage", "Hello there"]


async def test_a_post_cut_short_in_a_stall_is_called_unconfirmed_and_kept_whole(
    bots: BotRunner, emulator: Emulator, clean_postgres_url: str
) -> None:
    """A single write already sent when the network stalls reaches PostgreSQL once it heals
    and commits on its own (autocommit): no client can prevent or know that. The member is
    told the post is unconfirmed, never that it failed, and what lands is whole."""
    async with StallRelay(clean_postgres_url) as relay:
        bot = await bots.start(database_url=relay.url, **FAST)
        alice = emulator.member("alice")
        await alice.run("/register", name="Ann", age=30)
        # The pool's connection has prepared the insert: the next one is sent at once.
        await alice.run("/post", title="before the stall")
        relay.stall()
        post = await alice.run("/post", title="cut short")
        relay.resume()
        assert post.ephemeral
        assert UNAVAILABLE in post.text
        assert "may still have been saved" in post.text
        after = await alice.run("/post", title="after the stall")  # the network is back
        assert after.embeds[0]["title"].endswith("after the stall")
        guild = emulator.guild().id
        stored: list[str] = []
        for _ in range(50):  # the late bytes arrive on their own schedule
            posts = await bot.db.read_one(post_queries.get_user_posts(guild, alice.user.id))
            stored = [p.title for p in posts]
            if "cut short" in stored:
                break
            await asyncio.sleep(0.1)
        profile = await alice.run("/profile")
    # It did commit here (the relay delivers what it held): exactly once, and counted.
    assert sorted(stored) == ["after the stall", "before the stall", "cut short"]
    posts_field = next(f for f in profile.embeds[0]["fields"] if f["name"] == "Posts")
    assert posts_field["value"] == "3"


async def _titles_once_settled(db: Database, *, expect: str | None) -> list[str]:
    """The member's post titles, after waiting (up to 5 s) for ``expect`` to land, if given,
    or for the server to have rolled back whatever the relay delivered late."""
    titles: list[str] = []
    for _ in range(50):
        await asyncio.sleep(0.1)
        titles = [p.title for p in await db.read_one(post_queries.get_user_posts(1, 7))]
        if expect is None or expect in titles:
            break
    return titles


@pytest.mark.parametrize("stall_before", ["a statement", "the COMMIT"])
async def test_a_write_unit_cut_short_is_rolled_back_unless_its_commit_was_sent(
    clean_postgres_url: str, stall_before: str
) -> None:
    """Until COMMIT is sent, a dropped connection rolls the unit back, whatever arrives late:
    plain DatabaseUnavailable. Once it is sent, it may commit: WriteOutcomeUnknown."""
    await upgrade(clean_postgres_url)
    async with StallRelay(clean_postgres_url) as relay, Database(relay.url) as db:
        await db.write_one(user_queries.add_user(1, 7, "Ann", 30))
        await db.write_one(post_queries.add_post(1, 7, "before"))

        async def two_posts() -> None:
            with deadline_in(0.5):
                async with db.write() as unit:
                    await unit.run(post_queries.add_post(1, 7, "first of two"))
                    if stall_before == "a statement":
                        relay.stall()
                    await unit.run(post_queries.add_post(1, 7, "second of two"))
                    relay.stall()

        with pytest.raises(DatabaseUnavailable) as raised:
            await two_posts()
        relay.resume()
        if stall_before == "a statement":
            assert not isinstance(raised.value, WriteOutcomeUnknown)
            assert await _titles_once_settled(db, expect=None) == ["before"]
        else:
            assert isinstance(raised.value, WriteOutcomeUnknown)
            titles = await _titles_once_settled(db, expect="second of two")
            assert sorted(titles) == ["before", "first of two", "second of two"]


async def test_a_postgresql_that_went_away_is_reported_and_recovered(
    bots: BotRunner, emulator: Emulator, clean_postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with StallRelay(clean_postgres_url) as relay:
        await bots.start(database_url=relay.url, **FAST)
        alice = emulator.member("alice")
        await alice.run("/register", name="Ann", age=30)
        relay.refuse()
        with caplog.at_level(logging.INFO, logger=DB_LOG):
            down = await alice.run("/profile")
            relay.resume()
            up = await alice.run("/profile")
    assert UNAVAILABLE in down.text
    assert up.embeds[0]["title"] == "Ann"
    assert _outage_lines(caplog) == (1, 1)


async def test_a_locked_sqlite_is_reported_and_nothing_is_half_written(
    bots: BotRunner, emulator: Emulator, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await bots.start(database_url=sqlite_url, **FAST)
    alice = emulator.member("alice")
    await alice.run("/register", name="Ann", age=30)
    path = sqlite_path(sqlite_url)
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    with caplog.at_level(logging.INFO, logger=DB_LOG):
        other.execute("BEGIN EXCLUSIVE")  # another process holds the one write lock
        try:
            posted = await alice.run("/post", title="blocked")
            renamed = await alice.run("/rename", name="Annie")
        finally:
            other.execute("ROLLBACK")
            other.close()
        after = await alice.run("/post", title="free again")
    assert UNAVAILABLE in posted.text
    assert posted.ephemeral
    assert UNAVAILABLE in renamed.text
    assert after.embeds[0]["title"].endswith("free again")
    guild = emulator.guild().id
    stored = await bot.db.read_one(post_queries.get_user_posts(guild, alice.user.id, limit=10))
    assert [p.title for p in stored] == ["free again"]
    assert (await alice.run("/profile")).embeds[0]["title"] == "Ann"
    assert _outage_lines(caplog) == (1, 1)


async def test_the_deadline_counts_waiting_for_sqlites_write_lock(
    bots: BotRunner, emulator: Emulator, sqlite_url: str
) -> None:
    """Writers queued behind a stuck one are told in time, not after it."""
    bot = await bots.start(database_url=sqlite_url, **FAST)
    guild = emulator.guild().id
    members = [emulator.member(name) for name in ("alice", "bob", "carol")]
    for member in members:
        await member.run("/register", name=member.user.username, age=30)
    path = sqlite_path(sqlite_url)
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        replies = await asyncio.gather(*(m.run("/post", title="queued") for m in members))
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The first reached SQLite and waited out its busy timeout; the others queued behind it
    # were past their deadline when SQLite's thread reached them, and were not started.
    refused = [reply for reply in replies if UNAVAILABLE in reply.text]
    assert len(refused) >= len(replies) - 1
    assert all(reply.interaction.answered_in_time for reply in replies)
    # Every reply told the truth: exactly the posts reported published exist.
    stored = 0
    for member in members:
        stored += await bot.db.read_one(post_queries.count_posts(guild, member.user.id))
    assert stored == len(replies) - len(refused)


async def test_the_temporary_ban_loop_rides_out_an_outage(
    bots: BotRunner,
    emulator: Emulator,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by ``make reliability``: during an outage the loop logged an ERROR with a
    traceback every round, and an outage while it claimed a ban stopped the loop for good
    (discord.py's task loop ends on an exception it does not expect): no temporary ban was
    lifted again until a restart."""
    bot = await bots.start(database_url=sqlite_url, tempban_check_seconds=1.0)
    guild = emulator.guild()
    carol = emulator.user("carol")
    await emulator.ban("carol")  # from Discord's menu: the bot records a case of its own
    async with asyncio.timeout(10):
        while not await case_service.history(bot.db, guild.id, carol.id):  # noqa: ASYNC110 - the database has no event to wait on
            await asyncio.sleep(0.05)
    await case_service.record(
        bot.db,
        guild.id,
        CaseKind.BAN,
        target_id=carol.id,
        moderator_id=emulator.user("moderator").id,
        reason="a week off",
        expires_at=utcnow() - timedelta(seconds=1),
    )
    failures = {"due_expiries": 1, "claim_expiry": 1}

    def failing_once(name: str) -> Any:
        real = getattr(case_service, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if failures[name]:
                failures[name] -= 1
                raise DatabaseUnavailable("the database did not answer in time")
            return await real(*args, **kwargs)

        return call

    for name in failures:
        monkeypatch.setattr(case_service, name, failing_once(name))
    with caplog.at_level(logging.INFO):
        await emulator.wait_until(
            lambda: all(b.user.id != carol.id for b in emulator.bans()), timeout=15
        )
    assert failures == {"due_expiries": 0, "claim_expiry": 0}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


_LEASE_RUN_OUT = Statement(
    update(Case)
    .where(Case.id == bindparam("case_id"))
    .values(expiry_claimed_until=bindparam("when", type_=Case.lifted_at.type)),
    name="lease_run_out",
)


async def test_a_lifted_ban_whose_record_failed_is_closed_once_its_lease_runs_out(
    bots: BotRunner,
    emulator: Emulator,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claiming an expiry used to close it: a process that died, or could not write, between
    the claim and Discord's answer left the ban in place for good. The claim is a lease now,
    and the expiry closes only once Discord has lifted the ban."""
    bot = await bots.start(database_url=sqlite_url, tempban_check_seconds=1.0)
    guild = emulator.guild()
    carol = emulator.user("carol")
    await emulator.ban("carol")
    async with asyncio.timeout(10):
        while not await case_service.history(bot.db, guild.id, carol.id):  # noqa: ASYNC110 - the database has no event to wait on
            await asyncio.sleep(0.05)
    ban = await case_service.record(
        bot.db,
        guild.id,
        CaseKind.BAN,
        target_id=carol.id,
        moderator_id=emulator.user("moderator").id,
        reason="a week off",
        expires_at=utcnow() - timedelta(seconds=1),
    )
    real = case_service.mark_expiry_lifted
    attempts: list[int] = []

    async def failing_first(db: Database, case_id: int) -> Case | None:
        attempts.append(case_id)
        if len(attempts) == 1:
            raise DatabaseUnavailable("the database did not answer in time")
        return await real(db, case_id)

    monkeypatch.setattr(case_service, "mark_expiry_lifted", failing_first)
    with caplog.at_level(logging.INFO):
        await emulator.wait_until(
            lambda: all(b.user.id != carol.id for b in emulator.bans()), timeout=15
        )
        await asyncio.sleep(1.5)  # a round of the loop: the held expiry is not taken again
        assert attempts == [ban.id]
        after_lease = utcnow() + case_queries.EXPIRY_LEASE + timedelta(seconds=1)
        assert await case_service.due_expiries(bot.db, utcnow()) == []  # held, not closed
        assert [c.id for c in await case_service.due_expiries(bot.db, after_lease)] == [ban.id]

        # The process that held it is gone (here: its lease runs out by hand).
        await bot.db.write_one(
            Query(_LEASE_RUN_OUT, {"case_id": ban.id, "when": utcnow()}, nothing)
        )
        async with asyncio.timeout(10):
            while await case_service.due_expiries(bot.db, after_lease):  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.05)
    # Discord had lifted it already (10026): closed, not lifted twice, nothing left behind.
    assert attempts == [ban.id, ban.id]
    assert all(b.user.id != carol.id for b in emulator.bans())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
