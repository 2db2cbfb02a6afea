"""The emulator as a cluster's Discord: GET /gateway/bot's recommendation and session start
limit, 4011 for a shard holding too many guilds, 4014 for a privileged intent not enabled,
op 9 for an IDENTIFY too early for its bucket, sized worlds, and the standalone server's options."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from sandbox import Emulator, default_world, shard_for
from sandbox.gateway import GUILD_MEMBERS, MESSAGE_CONTENT
from sandbox.server import parse_args, rate_limit_fault
from tests.sandbox.sandbox_testbot import BotFactory

ROOT = Path(__file__).resolve().parents[2]
WS_QUERY = "?v=10&encoding=json"


async def gateway_bot(emu: Emulator, http: aiohttp.ClientSession) -> dict[str, Any]:
    auth = {"Authorization": f"Bot {emu.token}"}
    async with http.get(f"{emu.api_url}/gateway/bot", headers=auth) as response:
        answer: dict[str, Any] = await response.json()
    return answer


async def hello_identify(
    ws: aiohttp.ClientWebSocketResponse, emu: Emulator, *, shard: list[int] | None, intents: int = 0
) -> None:
    hello = json.loads((await ws.receive(timeout=5)).data)
    assert hello["op"] == 10
    data: dict[str, Any] = {"token": emu.token, "intents": intents, "properties": {}}
    if shard is not None:
        data["shard"] = shard
    await ws.send_json({"op": 2, "d": data})


async def first_frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any] | None:
    """The next frame, or None when the server closed the socket."""
    message = await ws.receive(timeout=5)
    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
        return None
    frame: dict[str, Any] = json.loads(message.data)
    return frame


async def test_gateway_bot_answers_with_discords_shape(
    emu: Emulator, http: aiohttp.ClientSession, start_bot: BotFactory
) -> None:
    before = await gateway_bot(emu, http)
    assert before["url"] == emu.gateway_url
    assert before["shards"] == 1
    assert before["session_start_limit"] == {
        "total": 1000,
        "remaining": 1000,
        "reset_after": 86_400_000,
        "max_concurrency": 1,
    }
    await start_bot()
    after = (await gateway_bot(emu, http))["session_start_limit"]
    assert after["remaining"] == 999
    assert 86_000_000 < after["reset_after"] <= 86_400_000


@pytest.mark.sandbox_emulator(max_guilds_per_shard=1)
async def test_too_many_guilds_for_one_shard_closes_with_4011(
    emu: Emulator, http: aiohttp.ClientSession, start_bot: BotFactory
) -> None:
    # Two guilds, one per shard at most: Discord recommends two shards.
    assert (await gateway_bot(emu, http))["shards"] == 2
    async with http.ws_connect(emu.gateway_url + WS_QUERY) as ws:
        await hello_identify(ws, emu, shard=None)
        assert await first_frame(ws) is None
        assert ws.close_code == 4011
    client = discord.Client(intents=discord.Intents.default())
    try:
        await client.login(emu.token)
        with pytest.raises(discord.ConnectionClosed) as closed:
            await client.connect(reconnect=False)
        assert closed.value.code == 4011
    finally:
        await client.close()
    # An AutoShardedBot that asks for the recommendation gets two shards and connects.
    bot = await start_bot()
    assert bot.shard_count == 2
    assert [c.close_code for c in emu.connections if c.close_code] == [4011, 4011]


async def test_a_privileged_intent_not_enabled_closes_with_4014(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(emu.gateway_url + WS_QUERY) as ws:
        await hello_identify(ws, emu, shard=None, intents=MESSAGE_CONTENT)
        assert await first_frame(ws) is None
        assert ws.close_code == 4014
    intents = discord.Intents.default()
    intents.members = True
    client = discord.Client(intents=intents)
    try:
        await client.login(emu.token)
        with pytest.raises(discord.ConnectionClosed) as closed:
            await client.connect(reconnect=False)
        assert closed.value.code == 4014  # discord.py's PrivilegedIntentsRequired when reconnecting
    finally:
        await client.close()
    assert emu.gateway.identified == []


@pytest.mark.sandbox_emulator(privileged_intents=GUILD_MEMBERS)
async def test_an_enabled_privileged_intent_is_accepted(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(emu.gateway_url + WS_QUERY) as ws:
        await hello_identify(ws, emu, shard=None, intents=GUILD_MEMBERS)
        ready = await first_frame(ws)
        assert ready is not None
        assert ready["t"] == "READY"


@pytest.mark.sandbox_emulator(identify_interval=0.4)
async def test_an_identify_too_early_for_its_bucket_gets_op_9(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(emu.gateway_url + WS_QUERY) as first:
        await hello_identify(first, emu, shard=[0, 2])
        assert (await first_frame(first) or {}).get("t") == "READY"
        async with http.ws_connect(emu.gateway_url + WS_QUERY) as second:
            # max_concurrency 1: every shard is in bucket 0, one IDENTIFY per interval.
            await hello_identify(second, emu, shard=[1, 2])
            assert await first_frame(second) == {"op": 9, "d": False}
        await asyncio.sleep(0.45)
        async with http.ws_connect(emu.gateway_url + WS_QUERY) as third:
            await hello_identify(third, emu, shard=[1, 2])
            assert (await first_frame(third) or {}).get("t") == "READY"
    assert emu.gateway.refused_identifies == 1
    # Refused IDENTIFYs start no session and cost nothing from the daily budget.
    assert len(emu.gateway.session_starts) == 2


@pytest.mark.sandbox_emulator(identify_interval=5.0, max_concurrency=2)
async def test_buckets_identify_side_by_side(emu: Emulator, http: aiohttp.ClientSession) -> None:
    assert (await gateway_bot(emu, http))["session_start_limit"]["max_concurrency"] == 2
    for shard_id in (0, 1):  # buckets 0 and 1
        async with http.ws_connect(emu.gateway_url + WS_QUERY) as ws:
            await hello_identify(ws, emu, shard=[shard_id, 2])
            assert (await first_frame(ws) or {}).get("t") == "READY"
    async with http.ws_connect(emu.gateway_url + WS_QUERY) as ws:
        await hello_identify(ws, emu, shard=[0, 2])  # bucket 0 again, too soon
        assert await first_frame(ws) == {"op": 9, "d": False}


@pytest.mark.sandbox_emulator(identify_interval=0.3, shard_count=2)
async def test_discord_py_pacing_its_identifies_is_never_refused(
    emu: Emulator, start_bot: BotFactory
) -> None:
    # discord.py waits 5 s between IDENTIFYs (Discord's interval); scaled down here.
    bot = await start_bot(identify_pause=0.35)
    assert bot.shard_count == 2
    assert emu.gateway.refused_identifies == 0
    assert len(emu.gateway.identified) == 2


@pytest.mark.sandbox_emulator(identify_interval=0.3, shard_count=2)
async def test_discord_py_recovers_from_an_early_identify(
    emu: Emulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(identify_pause=0.0)
    await emu.wait_until_ready(2)
    assert emu.gateway.refused_identifies >= 1
    assert sorted(s.shard_id for s in emu.gateway.identified) == [0, 1]
    assert bot.shard_count == 2


def test_a_sized_world_spreads_over_shards() -> None:
    world = default_world(guilds=10_000, members_per_guild=8)
    assert len(world.guilds) == len({g.id for g in world.guilds}) == 10_000
    generated = world.guild("guild9999")
    assert len(generated.roles) == 5
    assert [c.name for c in generated.channels] == ["general", "mod-log", "announcements"]
    assert [m.key for m in generated.members][:4] == ["owner", "admin", "moderator", "member1"]
    assert len(generated.members) == 9  # eight people and the bot
    assert generated.top_role(generated.member("admin")).name == "Admin"
    emu = Emulator(world)
    count = emu.gateway.recommended_shards()
    assert max(emu.gateway.shard_loads(count)) <= 2500
    assert max(emu.gateway.shard_loads(count - 1)) > 2500
    assert {shard_for(g.id, 4) for g in world.guilds} == {0, 1, 2, 3}
    assert [g.key for g in default_world(guilds=1).guilds] == ["alpha"]


def test_server_options_parse_faults_and_intents() -> None:
    args = parse_args(
        [
            "--guilds",
            "7",
            "--privileged-intents",
            "members,message_content",
            "--rate-limit",
            "GET /users/@me|times=2|retry_after=0.01|global",
            "--fail",
            "POST /interactions/{id}/{token}/callback|status=502",
        ]
    )
    assert args.guilds == 7
    assert args.privileged_intents == GUILD_MEMBERS | MESSAGE_CONTENT
    assert args.rate_limit == [
        ("GET /users/@me", {"times": 2, "retry_after": 0.01, "is_global": True})
    ]
    assert args.fail == [("POST /interactions/{id}/{token}/callback", {"status": 502})]
    for bad in (["--fail", "GET /x|colour=red"], ["--privileged-intents", "everything"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        rate_limit_fault("GET /x|times=many")


async def test_standalone_server_with_a_sized_world_and_faults(
    http: aiohttp.ClientSession,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.server",
        "--port",
        "0",
        "--token",
        "cluster-token",
        "--guilds",
        "5",
        "--max-guilds-per-shard",
        "2",
        "--rate-limit",
        "GET /users/@me|times=1|retry_after=0.01",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 10)).decode() for _ in range(5)]
        printed = {line.split()[0]: line.split(maxsplit=1)[1].strip() for line in lines}
        assert printed["guilds"].count("=") == 5
        auth = {"Authorization": "Bot cluster-token"}
        async with http.get(printed["api"] + "/gateway/bot", headers=auth) as response:
            shards = (await response.json())["shards"]
        assert printed["shards"].startswith(f"{shards} recommended")
        assert shards >= 3
        async with http.get(printed["api"] + "/users/@me", headers=auth) as response:
            assert response.status == 429
        async with http.get(printed["api"] + "/users/@me", headers=auth) as response:
            assert response.status == 200
    finally:
        process.terminate()
        await process.wait()
