"""The HTTP side: login, headers discord.py depends on, recorded 404s, follow-up rules."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from sandbox import Emulator
from tests.sandbox.sandbox_testbot import SandboxBot


async def test_login_with_wrong_token_fails(emu: Emulator) -> None:
    client = discord.Client(intents=discord.Intents.none())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
    assert emu.violations[-1].status == 401


async def test_wrong_gateway_token_closes_with_4004(emu: Emulator) -> None:
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(emu.token)
        client.http.token = "wrong"
        with pytest.raises(discord.ConnectionClosed) as caught:
            await client.connect(reconnect=False)
        assert caught.value.code == 4004
    finally:
        await client.close()


async def test_answers_carry_exact_json_type_and_rate_limit_headers(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    auth = {"Authorization": f"Bot {emu.token}"}
    async with http.get(f"{emu.api_url}/users/@me", headers=auth) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        for header in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
            assert f"X-RateLimit-{header}" in response.headers
        me = await response.json()
    assert me["id"] == str(emu.world.bot.id)
    assert me["bot"] is True
    async with http.get(f"{emu.api_url}/oauth2/applications/@me", headers=auth) as response:
        app = await response.json()
    assert app["interactions_endpoint_url"] is None
    assert app["id"] == str(emu.world.application_id)
    async with http.get(f"{emu.api_url}/gateway/bot", headers=auth) as response:
        gateway = await response.json()
    assert gateway["url"] == emu.gateway_url
    assert gateway["shards"] == 1
    assert gateway["session_start_limit"]["max_concurrency"] == 1


async def test_unknown_routes_are_recorded(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emu.api_url}/guilds/1/audit-logs") as response:
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == {"message": "404: Not Found", "code": 0}
    assert [(r.method, r.path) for r in emu.unknown_routes] == [("GET", "/guilds/1/audit-logs")]
    assert emu.violations == []


async def test_every_bot_request_is_recorded(emu: Emulator, bot: SandboxBot) -> None:
    await emu.member("alice").run("/slow")
    routes = [(r.method, r.path.split("/")[1], r.status) for r in emu.requests]
    assert routes[:2] == [("GET", "users", 200), ("GET", "oauth2", 200)]
    assert ("PUT", "applications", 200) in routes
    assert routes[-2:] == [("POST", "interactions", 200), ("PATCH", "webhooks", 200)]
    callback = emu.requests[-2]
    assert callback.query == {"with_response": "1"}
    assert callback.body == {"type": 5, "data": {"flags": 0}} or callback.body["type"] == 5
    assert emu.requests[-1].body["content"] == "Done thinking."


async def test_followup_rules(emu: Emulator, bot: SandboxBot, http: aiohttp.ClientSession) -> None:
    await emu.member("alice").run("/profile", name="Ann", age=30)
    interaction = emu.interactions[-1]
    hook = f"{emu.api_url}/webhooks/{emu.world.application_id}/{interaction.token}"

    async with http.post(hook, params={"wait": "1"}, json={"content": "x" * 2001}) as response:
        assert response.status == 400
        body = await response.json()
    assert body["code"] == 50035
    assert body["errors"] == {
        "content": {
            "_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]
        }
    }

    async with http.post(hook, params={"wait": "1"}, json={}) as response:
        assert (await response.json())["code"] == 50006

    form = aiohttp.FormData()
    form.add_field(
        "payload_json",
        '{"content": "with a file", "attachments": [{"id": 0, "filename": "a.json"}]}',
    )
    form.add_field("files[0]", b'{"a": 1}', filename="a.json", content_type="application/json")
    async with http.post(hook, params={"wait": "1"}, data=form) as response:
        assert response.status == 200
        message = await response.json()
    assert message["content"] == "with a file"
    assert message["attachments"][0]["filename"] == "a.json"
    assert message["attachments"][0]["size"] == 8

    async with http.patch(
        f"{hook}/messages/{message['id']}", json={"content": "edited"}
    ) as response:
        assert (await response.json())["edited_timestamp"] is not None
    async with http.delete(f"{hook}/messages/@original") as response:
        assert response.status == 204
    async with http.get(f"{hook}/messages/@original") as response:
        assert (await response.json())["code"] == 10008
    assert emu.messages[0].deleted
    assert [v.code for v in emu.violations] == [50035, 50006, 10008]


@pytest.mark.sandbox_emulator(token_lifetime=0.0)
async def test_expired_token_refuses_followups(
    emu: Emulator, bot: SandboxBot, http: aiohttp.ClientSession
) -> None:
    await emu.member("alice").run("/profile", name="Ann", age=30)
    interaction = emu.interactions[-1]
    hook = f"{emu.api_url}/webhooks/{emu.world.application_id}/{interaction.token}"
    async with http.post(hook, json={"content": "late"}) as response:
        assert response.status == 401
        assert (await response.json())["code"] == 50027


async def test_channel_messages(emu: Emulator, bot: SandboxBot) -> None:
    general = bot.get_channel(emu.guild("alpha").channel("general").id)
    assert isinstance(general, discord.TextChannel)
    sent = await general.send("hello channel", allowed_mentions=discord.AllowedMentions.none())
    edited = await sent.edit(content="hello again")
    assert edited.content == "hello again"
    await sent.delete()
    stored = emu.messages[-1]
    assert stored.deleted
    assert [v.content for v in stored.versions] == ["hello channel", "hello again"]
    assert emu.could_ping() == []
