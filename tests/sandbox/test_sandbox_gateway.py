"""The gateway: zlib-stream or plain frames, IDENTIFY checks, shard routing, RESUME."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import aiohttp
import discord
import pytest

from sandbox import Emulator, shard_for
from tests.sandbox.sandbox_testbot import BotFactory, SandboxBot

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
        assert data["resume_gateway_url"] == emu.gateway_url
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
