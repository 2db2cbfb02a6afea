"""``make reliability`` at a small size, on both databases, inside the test suite.

The same harness as the full run (``reliability.harness``): hostile input to every command and
autocomplete, each database fault injected for real and cleared, ``kill -9`` under write load
and a restart, a few members at once. Every figure that must be 0 is asserted 0, and every
fault survived (the SQLite read-only fault may be "not measurable here" on a machine that
cannot make files immutable; the reason is then given). Also: how the harness reads the
bot's log.
"""

from __future__ import annotations

import asyncio
import random
from typing import cast

import pytest

from bot.db import Database
from bot.db.blocks import add_block
from bot.db.posts import delete_member_posts
from reliability.harness import Sizes, run_backend
from reliability.hostile import HostilePhase
from reliability.process import BotProcess, LogProblems
from reliability.report import table, verdict
from sandbox import Emulator


@pytest.mark.subprocess
async def test_a_small_reliability_run(backend: str, empty_database_url: str) -> None:
    seed = random.SystemRandom().randrange(2**32)
    report = await run_backend(backend, Sizes.small(), seed=seed, database_url=empty_database_url)
    shown = f"seed {seed}\n{table([report])}\n" + "\n".join(
        [*report.hostile.problems, *report.crash.problems, *report.problems]
        + [p for f in report.faults for p in f.problems]
    )
    assert verdict([report]) == [], shown
    assert report.hostile.tried >= 3 * 20, shown  # every leaf command, and the autocomplete
    assert report.hostile.internal_errors == 0, shown
    assert report.hostile.refused > 0, shown
    assert report.hostile.answered > 0, shown
    assert len(report.faults) == 2, shown
    for fault in report.faults:
        assert fault.survived or fault.unsupported, (fault.name, shown)
    assert report.crash.confirmed > 0, shown
    assert report.crash.lost == 0, shown
    assert report.crash.duplicated == 0, shown
    assert report.crash.served_after, shown
    assert report.deadline_misses == 0, shown
    assert report.internal_errors == 0, shown
    assert report.load.interactions > 0, shown
    assert report.load.ack, shown
    assert report.clean_exit, shown


PLAIN = "[2026-12-02 08:00:34] [{level:<8}] bot.x: something"
COLOUR = "\x1b[30;1m2026-12-02 08:00:34\x1b[0m \x1b[31m{level:<8}\x1b[0m \x1b[35mbot.x\x1b[0m hi"
TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "x.py", line 1, in <module>',
    "ValueError: boom",
]


@pytest.mark.parametrize("form", [PLAIN, COLOUR])
def test_the_harness_counts_error_records_not_warnings_with_tracebacks(form: str) -> None:
    log = LogProblems()
    for line in [form.format(level="INFO"), form.format(level="WARNING"), *TRACEBACK]:
        log.add(line)
    # A warning's own traceback (asyncpg's pool logs one while it reconnects) is no error.
    assert log.since(0) == []
    log.add(form.format(level="ERROR"))
    for line in [*TRACEBACK, "", "The above exception was the direct cause:", "", *TRACEBACK]:
        log.add(line)
    assert len(log.since(0)) == 1
    assert log.since(0)[0].endswith("ValueError: boom")
    assert "\x1b" not in log.since(0)[0]


def test_the_harness_counts_tracebacks_no_logger_wrote() -> None:
    log = LogProblems()
    log.add(TRACEBACK[0])  # before any record
    log.add(PLAIN.format(level="INFO"))
    log.add("Exception ignored in: <function f at 0x1>")
    log.add(TRACEBACK[0])
    assert len(log.since(0)) == 2


async def test_the_hostile_phase_puts_back_a_member_a_case_blocked(db: Database) -> None:
    """Found by a full run: a hostile ``/mod block`` on alice left her blocked, and the
    harness, publishing her a post for the next case's options, stopped on the refusal."""
    async with Emulator() as emulator:
        phase = HostilePhase(
            emulator, cast(BotProcess, None), db, asyncio.get_running_loop(), examples=1, seed=1
        )
        await phase.prepare()
        alice = emulator.user("alice").id
        await db.write_one(delete_member_posts(emulator.guild().id, alice))
        await db.write_one(add_block(emulator.guild().id, alice, None))
        await phase._put_back()
        dynamic = await phase._dynamic()
    assert len(dynamic.own_posts) == 1
