"""The gateway: zlib-stream or plain frames, IDENTIFY checks, shard routing, RESUME,
RECONNECT, INVALID_SESSION, heartbeat ACKs and timeouts (4009), and zombie connections."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import aiohttp
import discord
import pytest

from sandbox import Emulator, GatewayConnection, shard_for
from tests.sandbox.sandbox_testbot import BotFactory, SandboxBot
from tests.support import assert_no_leaked_tasks

SYNC_FLUSH = b"\x00\x00\xff\xff"


class Inflater:
    """What discord.py does with binary frames: one inflater for the whole connection."""

    def __init__(self) -> None:
        self.context = zlib.decompressobj()

    async def receive(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.BINARY, message
        assert message.data.endswith(SYNC_FLUSH)
        frame: dict[str, Any] = json.loads(self.context.decompress(message.data))
        return frame


async def test_zlib_stream_identify_ready(emu: Emulator, http: aiohttp.ClientSession) -> None:
    url = emu.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
    async with http.ws_connect(url) as ws:
        inflater = Inflater()
        hello = await inflater.receive(ws)
        assert hello["op"] == 10
        assert hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 1, "d": None})
        assert (await inflater.receive(ws))["op"] == 11
        await ws.send_json({"op": 2, "d": {"token": emu.token, "intents": 0, "properties": {}}})
        ready = await inflater.receive(ws)
        assert ready["t"] == "READY"
        assert ready["s"] == 1
        data = ready["d"]
        assert data["user"]["id"] == str(emu.world.bot.id)
        assert data["application"] == {"id": str(emu.world.application_id), "flags": 0}
        assert data["resume_gateway_url"] == emu.resume_gateway_url
        assert data["shard"] == [0, 1]
        assert data["guilds"] == [{"id": str(g.id), "unavailable": True} for g in emu.world.guilds]
        creates = [await inflater.receive(ws) for _ in emu.world.guilds]
        assert [c["t"] for c in creates] == ["GUILD_CREATE", "GUILD_CREATE"]
        alpha = creates[0]["d"]
        assert alpha["id"] == str(emu.guild("alpha").id)
        assert any(r["id"] == alpha["id"] and r["name"] == "@everyone" for r in alpha["roles"])
        assert {m["user"]["username"] for m in alpha["members"]} >= {"alice", "Bulletin"}


async def test_plain_text_frames_and_bad_token(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        hello = await ws.receive(timeout=5)
        assert hello.type == aiohttp.WSMsgType.TEXT
        assert json.loads(hello.data)["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": "nope", "intents": 0, "properties": {}}})
        closed = await ws.receive(timeout=5)
        assert closed.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4004


async def test_invalid_shard_closes_with_4010(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        await ws.receive(timeout=5)
        await ws.send_json(
            {"op": 2, "d": {"token": emu.token, "intents": 0, "properties": {}, "shard": [2, 2]}}
        )
        await ws.receive(timeout=5)
        assert ws.close_code == 4010


@pytest.mark.sandbox_emulator(shard_count=2)
async def test_two_shards_each_get_their_own_guild(emu: Emulator, start_bot: BotFactory) -> None:
    bot = await start_bot()
    assert bot.shard_count == 2
    alpha, beta = emu.guild("alpha"), emu.guild("beta")
    assert (shard_for(alpha.id, 2), shard_for(beta.id, 2)) == (0, 1)
    creates = {(f.shard_id, f.d["id"]) for f in emu.frames if f.t == "GUILD_CREATE"}
    assert creates == {(0, str(alpha.id)), (1, str(beta.id))}
    identifies = sorted(f.d["shard"] for f in emu.frames if f.op == 2)
    assert identifies == [[0, 2], [1, 2]]
    alpha_guild, beta_guild = bot.get_guild(alpha.id), bot.get_guild(beta.id)
    assert alpha_guild is not None
    assert beta_guild is not None
    assert (alpha_guild.shard_id, beta_guild.shard_id) == (0, 1)

    await emu.member("alice").run("/profile", name="A", age=20)
    await emu.member("alice", guild="beta").run("/profile", name="B", age=20)
    routed = [(f.shard_id, f.d["guild_id"]) for f in emu.frames if f.t == "INTERACTION_CREATE"]
    assert routed == [(0, str(alpha.id)), (1, str(beta.id))]


async def test_plain_client_is_one_unsharded_session(emu: Emulator) -> None:
    client = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    await client.login(emu.token)
    task = asyncio.create_task(client.connect(reconnect=False))
    try:
        await emu.wait_until_ready(1)
        await asyncio.wait_for(client.wait_until_ready(), 5)
        identify = next(f for f in emu.frames if f.op == 2)
        assert "shard" not in identify.d
        assert len(client.guilds) == 2
    finally:
        await client.close()
        await task


async def test_reconnect_resumes_and_replays(emu: Emulator, bot: SandboxBot) -> None:
    [session] = await emu.wait_until_ready(1)
    await emu.request_reconnect(0)
    for _ in range(200):
        if session.resumed and session.connection is not None:
            break
        await asyncio.sleep(0.01)
    assert session.resumed == 1
    resumes = [f for f in emu.frames if f.op == 6]
    assert resumes[0].d["session_id"] == session.id
    assert [f.t for f in emu.frames if f.t == "RESUMED"] == ["RESUMED"]
    reply = await emu.member("alice").run("/profile", name="After", age=40)
    assert reply.embeds[0]["title"] == "Profile of After"


async def test_invalid_session_makes_the_bot_identify_again(emu: Emulator, bot: SandboxBot) -> None:
    [first] = await emu.wait_until_ready(1)
    await emu.invalidate_session(0, resumable=False)
    sessions = await emu.wait_until_ready(2)
    assert sessions[0] is first
    assert sessions[1].connection is not None
    assert sum(1 for f in emu.frames if f.op == 2) == 2
    reply = await emu.member("bob").run("/slow")
    assert reply.content == "Done thinking."


# A raw client speaking plain-text frames, for what discord.py never does on its own.


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    frame: dict[str, Any] = json.loads(message.data)
    return frame


async def identify(emu: Emulator, ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """HELLO, IDENTIFY, READY and the GUILD_CREATEs; returns the dispatches."""
    assert (await receive(ws))["op"] == 10
    await ws.send_json({"op": 2, "d": {"token": emu.token, "intents": 0, "properties": {}}})
    return [await receive(ws) for _ in range(1 + len(emu.world.guilds))]


async def resume(
    emu: Emulator, ws: aiohttp.ClientWebSocketResponse, session_id: str, seq: int
) -> None:
    assert (await receive(ws))["op"] == 10
    await ws.send_json({"op": 6, "d": {"token": emu.token, "session_id": session_id, "seq": seq}})


async def test_resume_replays_missed_dispatches_with_their_sequence(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        ready, *creates = await identify(emu, ws)
    assert [f["s"] for f in [ready, *creates]] == [1, 2, 3]
    session_id = ready["d"]["session_id"]
    await emu.wait_until(lambda: not emu.connections[0].open)
    alpha = emu.guild("alpha").id
    for n in range(2):
        # Sent while nobody is connected: Discord keeps them for the RESUME.
        await emu.gateway.dispatch_to_guild(alpha, "TEST_EVENT", {"n": n})

    async with http.ws_connect(emu.resume_gateway_url + "?v=10&encoding=json") as ws:
        await resume(emu, ws, session_id, 3)
        replayed = [await receive(ws) for _ in range(3)]
        assert [(f["t"], f["s"]) for f in replayed] == [
            ("TEST_EVENT", 4),
            ("TEST_EVENT", 5),
            ("RESUMED", 6),
        ]
        assert [f["d"] for f in replayed[:2]] == [{"n": 0}, {"n": 1}]

        # A second RESUME from further back replays more and takes the session over.
        async with http.ws_connect(emu.resume_gateway_url + "?v=10&encoding=json") as other:
            await resume(emu, other, session_id, 1)
            again = [await receive(other) for _ in range(6)]
            assert [f["s"] for f in again] == [2, 3, 4, 5, 6, 7]
            assert again[-1]["t"] == "RESUMED"
            closed = await ws.receive(timeout=5)
            assert closed.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 1001

    first, second, third = emu.connections
    assert (first.path, first.identified, first.via_resume_url) == ("/", True, False)
    assert (second.resumed, second.via_resume_url, second.closed_by) == (True, True, "server")
    assert third.resumed
    assert first.session_id == second.session_id == third.session_id == session_id
    [session] = emu.gateway.identified
    assert session.resumed == 2


async def test_resume_of_an_unknown_session_or_sequence_is_refused(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        await resume(emu, ws, "no-such-session", 1)
        assert await receive(ws) == {"op": 9, "d": False}
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        ready, *_ = await identify(emu, ws)
    session_id = ready["d"]["session_id"]
    async with http.ws_connect(emu.resume_gateway_url + "?v=10&encoding=json") as ws:
        # A sequence the server never sent cannot be resumed from; the session is over.
        await resume(emu, ws, session_id, 99)
        assert await receive(ws) == {"op": 9, "d": False}
    async with http.ws_connect(emu.resume_gateway_url + "?v=10&encoding=json") as ws:
        await resume(emu, ws, session_id, 3)
        assert await receive(ws) == {"op": 9, "d": False}
    assert not any(c.resumed for c in emu.connections)


@pytest.mark.sandbox_emulator(heartbeat_interval_ms=200, heartbeat_timeout_factor=1.5)
async def test_a_connection_that_stops_heartbeating_is_closed_with_4009(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    assert emu.heartbeat_timeout() == pytest.approx(0.3)
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        ready, *_ = await identify(emu, ws)
        await ws.send_json({"op": 1, "d": 3})
        assert await receive(ws) == {"op": 11}
        closed = await ws.receive(timeout=5)
        assert closed.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4009
    [record] = emu.connections
    assert (record.closed_by, record.close_code, record.heartbeats) == ("server", 4009, 1)
    # The session timed out with its connection: "reconnect and start a new one".
    async with http.ws_connect(emu.resume_gateway_url + "?v=10&encoding=json") as ws:
        await resume(emu, ws, ready["d"]["session_id"], 3)
        assert await receive(ws) == {"op": 9, "d": False}


def test_heartbeats_are_acknowledged_after_20_ms_by_default() -> None:
    assert Emulator().settings.heartbeat_ack_delay == 0.02


@pytest.mark.sandbox_emulator(heartbeat_ack_delay=0.1)
async def test_a_heartbeat_is_acknowledged_after_the_delay(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    loop = asyncio.get_running_loop()
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        await identify(emu, ws)
        sent = loop.time()
        await ws.send_json({"op": 1, "d": 3})
        assert await receive(ws) == {"op": 11}
        # A lower bound only: the emulator sleeps at least the delay before it answers.
        assert loop.time() - sent >= 0.1


@pytest.mark.sandbox_emulator(heartbeat_ack_delay=3600)
async def test_a_pending_ack_holds_nothing_up_and_ends_with_its_connection(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    before = asyncio.all_tasks()
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        assert (await receive(ws))["op"] == 10
        await ws.send_json({"op": 1, "d": None})
        await ws.send_json({"op": 2, "d": {"token": emu.token, "intents": 0, "properties": {}}})
        dispatches = [await receive(ws) for _ in range(1 + len(emu.world.guilds))]
        assert [f["t"] for f in dispatches] == ["READY", "GUILD_CREATE", "GUILD_CREATE"]
        await emu.request_heartbeat(0)
        assert await receive(ws) == {"op": 1, "d": None}
    [record] = emu.connections
    await emu.wait_until(lambda: record.closed_at is not None, timeout=5)
    assert record.heartbeats == 1
    assert not [f for f in emu.frames if f.op == 11]
    await assert_no_leaked_tasks(before)


@pytest.mark.sandbox_emulator(heartbeat_interval_ms=200, heartbeat_timeout_factor=0)
async def test_the_heartbeat_timeout_can_be_switched_off(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    assert emu.heartbeat_timeout() is None
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        await identify(emu, ws)
        await emu.request_heartbeat(0)
        assert await receive(ws) == {"op": 1, "d": None}
    [record] = emu.connections
    assert record.closed_by == "bot"


async def test_a_plain_bot_uses_zlib_stream_and_answers_a_heartbeat_request(
    emu: Emulator, bot: SandboxBot
) -> None:
    await emu.wait_until_ready(1)
    [connection] = emu.connections
    assert (connection.compress, connection.identified, connection.shard_id) == (
        "zlib-stream",
        True,
        0,
    )
    before = connection.heartbeats
    await emu.request_heartbeat(0)
    await emu.wait_until(lambda: connection.heartbeats > before, timeout=5)


@pytest.mark.sandbox_emulator(heartbeat_interval_ms=200)
async def test_a_zombie_connection_makes_discord_py_resume_and_replay(
    emu: Emulator, start_bot: BotFactory
) -> None:
    # discord.py's zombie detection: nothing received for heartbeat_timeout seconds.
    await start_bot(heartbeat_timeout=0.6)
    [session] = await emu.wait_until_ready(1)
    stalled: list[GatewayConnection] = emu.stall_heartbeat_acks(0)
    assert [c.zombie for c in stalled] == [True]
    # Dispatched into the dead link: lost there, replayed once the bot resumes.
    reply = await emu.member("alice").run("/profile", name="Zed", age=33)
    assert reply.embeds[0]["title"] == "Profile of Zed"
    assert await emu.wait_until_resumed(0) is session
    [zombie] = stalled
    assert (zombie.closed_by, zombie.close_code) == ("bot", 4000)
    assert sum(1 for f in emu.frames if f.op == 2) == 1
    healthy = emu.connections[-1]
    assert (healthy.resumed, healthy.via_resume_url, healthy.zombie) == (True, True, False)
    delivered = [f for f in emu.frames if f.t == "INTERACTION_CREATE"]
    assert [f.d["id"] for f in delivered] == [str(reply.interaction.id)]


async def test_a_resumable_invalid_session_makes_discord_py_resume(
    emu: Emulator, bot: SandboxBot
) -> None:
    [session] = await emu.wait_until_ready(1)
    await emu.invalidate_session(0, resumable=True)
    assert await emu.wait_until_resumed(0) is session
    assert sum(1 for f in emu.frames if f.op == 2) == 1
    assert [f.d for f in emu.frames if f.op == 9] == [True]
    reply = await emu.member("bob").run("/slow")
    assert reply.content == "Done thinking."


@pytest.mark.sandbox_emulator(shard_count=3)
async def test_gateway_bot_recommends_the_configured_shard_count(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    auth = {"Authorization": f"Bot {emu.token}"}
    async with http.get(f"{emu.api_url}/gateway/bot", headers=auth) as response:
        assert (await response.json())["shards"] == 3
