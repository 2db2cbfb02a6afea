"""The real bot rides out what Discord does to it: RECONNECT, INVALID_SESSION, a zombie link,
429s and 5xx answers, and two shards in one process.

Each test provokes one fault through the emulator and then checks the member still gets
an answer. The suite-wide checks of ``tests/e2e/conftest.py`` still apply: injected faults
are not violations, but every interaction must be answered within Discord's deadline.
discord.py waits 5 s before every IDENTIFY but a client's first (Discord's identify rate
limit), so only the two tests that need a second IDENTIFY pay for one.
"""

from __future__ import annotations

import pytest

from bot.client import Bulletin
from sandbox import Emulator, shard_for
from tests.e2e.conftest import BotRunner

# Heartbeats every second so a stalled link shows within seconds; the 4009 deadline is
# generous so a busy event loop on a loaded machine never times a healthy connection out.
HEARTBEAT_MS = 1000
HEARTBEAT_TIMEOUT_FACTOR = 4.0
# discord.py's zombie detection: nothing received for this long closes and resumes.
ZOMBIE_AFTER = 2.0
# Room for discord.py's 5 s identify pause plus the connection itself.
IDENTIFY_BUDGET = 20.0

CALLBACK = "POST /interactions/{id}/{token}/callback"
EDIT_ORIGINAL = "PATCH /webhooks/{app}/{token}/messages/@original"


# Fast heartbeats, so that stalls and timeouts show within a test.
pytestmark = pytest.mark.emulator(
    heartbeat_interval_ms=HEARTBEAT_MS, heartbeat_timeout_factor=HEARTBEAT_TIMEOUT_FACTOR
)


def identifies(emulator: Emulator) -> int:
    return sum(1 for f in emulator.frames if f.op == 2 and f.direction == "from_bot")


def resumes(emulator: Emulator) -> list[str]:
    """The session ids of the RESUMEs the bot sent."""
    return [f.d["session_id"] for f in emulator.frames if f.op == 6]


async def test_after_reconnect_the_bot_resumes_and_keeps_answering(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    [session] = await emulator.wait_until_ready(1)
    await emulator.request_reconnect(0)
    # Typed while the bot is between connections: Discord holds it and replays it on RESUME.
    during = await emulator.member("alice").run("/register", name="Ann", age=30)
    assert await emulator.wait_until_resumed(0) is session
    after = await emulator.member("bob").run("/register", name="Bob", age=31)

    assert during.embeds[0]["title"] == "Ann"
    assert after.embeds[0]["title"] == "Bob"
    assert identifies(emulator) == 1
    assert resumes(emulator) == [session.id]
    # The bot stops reading at op 7, so what answered the command was the replay.
    frames = emulator.frames
    resume_at = next(i for i, f in enumerate(frames) if f.op == 6)
    sent = [
        i
        for i, f in enumerate(frames)
        if f.t == "INTERACTION_CREATE" and f.d["id"] == str(during.interaction.id)
    ]
    assert sent[-1] > resume_at
    first, resumed = emulator.connections
    assert (first.closed_by, first.close_code) == ("bot", 4000)
    assert resumed.resumed
    assert resumed.via_resume_url
    assert [f.t for f in emulator.frames if f.t == "RESUMED"] == ["RESUMED"]


async def test_after_a_non_resumable_invalid_session_the_bot_identifies_again(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    [first] = await emulator.wait_until_ready(1)
    await emulator.invalidate_session(0, resumable=False)
    second = (await emulator.wait_until_ready(2, timeout=IDENTIFY_BUDGET))[1]
    reply = await emulator.member("alice").run("/register", name="Ann", age=30)

    assert reply.embeds[0]["title"] == "Ann"
    assert second.id != first.id
    assert second.shard_id == 0
    assert resumes(emulator) == []
    # A new session starts at the default gateway, not at the old resume URL.
    assert [c.path for c in emulator.connections if c.identified] == ["/", "/"]
    assert emulator.connections[0].close_code == 1000


async def test_after_heartbeat_acks_stall_the_bot_reconnects_and_resumes(
    runner: BotRunner, emulator: Emulator
) -> None:
    await runner.start(client_options={"heartbeat_timeout": ZOMBIE_AFTER})
    [session] = await emulator.wait_until_ready(1)
    [stalled] = emulator.stall_heartbeat_acks(0)
    assert await emulator.wait_until_resumed(0, timeout=IDENTIFY_BUDGET) is session
    reply = await emulator.member("alice").run("/register", name="Ann", age=30)

    assert reply.embeds[0]["title"] == "Ann"
    assert (stalled.closed_by, stalled.close_code) == ("bot", 4000)
    assert identifies(emulator) == 1
    assert resumes(emulator) == [session.id]
    # The bot kept heartbeating into the dead link, so Discord's side never timed it out.
    assert all(c.close_code != 4009 for c in emulator.connections)


async def test_a_rate_limited_direct_answer_is_retried(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    callback = emulator.rate_limit(CALLBACK, times=2, retry_after=0.05)
    reply = await emulator.member("alice").run("/register", name="Ann", age=30)

    assert "Welcome" in reply.content
    assert reply.ephemeral
    assert reply.interaction.answered_in_time
    assert callback.remaining == 0
    answers = [r for r in emulator.requests if r.path.startswith(("/interactions", "/webhooks"))]
    assert [(r.method, r.status) for r in answers] == [("POST", 429), ("POST", 429), ("POST", 200)]


async def test_a_rate_limited_deferral_and_edit_are_retried(
    runner: BotRunner, emulator: Emulator
) -> None:
    await runner.start(defer_after_seconds=0)  # every command defers first, then edits
    callback = emulator.rate_limit(CALLBACK, times=2, retry_after=0.05)
    edit = emulator.rate_limit(EDIT_ORIGINAL, is_global=True, retry_after=0.05)
    reply = await emulator.member("alice").run("/register", name="Ann", age=30)

    assert "Welcome" in reply.content
    assert reply.ephemeral
    assert reply.interaction.answered_in_time
    assert (callback.remaining, edit.remaining) == (0, 0)
    assert [f.kind for f in emulator.injected_faults] == [
        "rate_limit",
        "rate_limit",
        "global_rate_limit",
    ]
    answers = [r for r in emulator.requests if r.path.startswith(("/interactions", "/webhooks"))]
    assert [(r.method, r.status) for r in answers] == [
        ("POST", 429),
        ("POST", 429),
        ("POST", 200),
        ("PATCH", 429),
        ("PATCH", 200),
    ]


async def test_a_server_error_on_the_answer_is_retried(
    runner: BotRunner, emulator: Emulator
) -> None:
    await runner.start(defer_after_seconds=0)
    edit = emulator.fail_requests(EDIT_ORIGINAL, status=503)
    reply = await emulator.member("alice").run("/register", name="Ann", age=30)

    assert "Welcome" in reply.content
    assert edit.remaining == 0
    edits = [r.status for r in emulator.requests if r.method == "PATCH"]
    assert edits == [503, 200]


async def test_two_shards_in_one_process_serve_both_guilds(
    runner: BotRunner, emulator: Emulator
) -> None:
    alpha, beta = emulator.guild("alpha"), emulator.guild("beta")
    assert (shard_for(alpha.id, 2), shard_for(beta.id, 2)) == (0, 1)
    bot = await runner.start(shard_count=2)
    sessions = await emulator.wait_until_ready(2, timeout=IDENTIFY_BUDGET)
    assert sorted(s.shard_id for s in sessions) == [0, 1]
    assert sorted(bot.shards) == [0, 1]

    in_alpha = await emulator.member("alice", guild="alpha").run("/register", name="A", age=20)
    in_beta = await emulator.member("alice", guild="beta").run("/register", name="B", age=21)
    # One shard reconnecting leaves the other alone.
    await emulator.request_reconnect(1)
    await emulator.wait_until_resumed(1)
    after = await emulator.member("erin", guild="beta").run("/register", name="E", age=22)

    assert [r.embeds[0]["title"] for r in (in_alpha, in_beta, after)] == ["A", "B", "E"]
    routed = [(f.shard_id, f.d["guild_id"]) for f in emulator.frames if f.t == "INTERACTION_CREATE"]
    assert routed == [(0, str(alpha.id)), (1, str(beta.id)), (1, str(beta.id))]
    creates = {(f.shard_id, f.d["id"]) for f in emulator.frames if f.t == "GUILD_CREATE"}
    assert creates == {(0, str(alpha.id)), (1, str(beta.id))}
    assert sorted(f.d["shard"] for f in emulator.frames if f.op == 2) == [[0, 2], [1, 2]]
    assert [c.shard_id for c in emulator.connections if c.resumed] == [1]
