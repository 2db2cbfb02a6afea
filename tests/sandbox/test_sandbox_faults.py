"""Faults on request: 429s (per route, global, without Via) and 5xx, and how discord.py takes them."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from sandbox import Emulator
from sandbox.faults import route_pattern
from tests.sandbox.sandbox_testbot import SandboxBot

CALLBACK = "POST /interactions/{interaction}/{token}/callback"


def test_routes_match_any_value_in_a_placeholder() -> None:
    method, pattern = route_pattern("POST /interactions/{id}/{token}/callback")
    assert method == "POST"
    assert pattern.match("/interactions/123/abc-_DEF/callback")
    assert not pattern.match("/interactions/123/abc/callback/extra")
    assert not pattern.match("/interactions/123/callback")
    method, pattern = route_pattern("/api/v10/webhooks/{app}/{token}/messages/@original")
    assert method is None
    assert pattern.match("/webhooks/1/t/messages/@original")
    assert not pattern.match("/webhooks/1/t/messages/99")
    with pytest.raises(ValueError, match="METHOD /path"):
        route_pattern("POST interactions")


def test_fault_arguments_are_checked(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="5xx"):
        emu.fail_requests("GET /users/@me", status=429)
    with pytest.raises(ValueError, match="times"):
        emu.rate_limit("GET /users/@me", times=0)
    with pytest.raises(ValueError, match="negative"):
        emu.rate_limit("GET /users/@me", retry_after=-1)


async def test_a_route_rate_limit_is_shaped_for_a_retry(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    rule = emu.rate_limit("GET /users/@me", retry_after=0.25)
    auth = {"Authorization": f"Bot {emu.token}"}
    async with http.get(f"{emu.api_url}/users/@me", headers=auth) as response:
        assert response.status == 429
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Via"]
        assert response.headers["Retry-After"] == "1"
        assert response.headers["X-RateLimit-Scope"] == "user"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert response.headers["X-RateLimit-Reset-After"] == "0.250"
        assert "X-RateLimit-Global" not in response.headers
        body = await response.json()
    assert body == {"message": "You are being rate limited.", "retry_after": 0.25, "global": False}
    async with http.get(f"{emu.api_url}/users/@me", headers=auth) as response:
        assert response.status == 200
    assert rule.remaining == 0
    assert [(f.method, f.path, f.status, f.kind) for f in emu.injected_faults] == [
        ("GET", "/users/@me", 429, "rate_limit")
    ]
    assert rule.hits == emu.injected_faults
    assert [(r.status, r.injected) for r in emu.requests] == [(429, True), (200, False)]
    assert emu.violations == []


async def test_a_global_rate_limit_and_server_errors(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.rate_limit("/gateway", is_global=True, retry_after=2.5)
    emu.fail_requests("GET /gateway", status=503)
    emu.fail_requests("GET /gateway", status=502)
    url = f"{emu.api_url}/gateway"
    async with http.get(url) as response:
        assert response.status == 429
        assert response.headers["X-RateLimit-Global"] == "true"
        assert response.headers["X-RateLimit-Scope"] == "global"
        assert response.headers["Retry-After"] == "3"
        assert "X-RateLimit-Bucket" not in response.headers
        assert (await response.json())["global"] is True
    async with http.get(url) as response:
        assert response.status == 503
        assert await response.json() == {"message": "503: Service Unavailable", "code": 0}
    async with http.get(url) as response:
        assert response.status == 502
        assert response.content_type == "text/html"
    async with http.get(url) as response:
        assert response.status == 200
    assert [f.kind for f in emu.injected_faults] == [
        "global_rate_limit",
        "server_error",
        "server_error",
    ]
    assert emu.violations == []
    assert emu.unknown_routes == []


async def test_clear_faults_withdraws_the_rules(emu: Emulator, http: aiohttp.ClientSession) -> None:
    rule = emu.fail_requests("GET /gateway", times=5)
    async with http.get(f"{emu.api_url}/gateway") as response:
        assert response.status == 503
    emu.clear_faults()
    async with http.get(f"{emu.api_url}/gateway") as response:
        assert response.status == 200
    assert rule.remaining == 4
    assert len(emu.injected_faults) == 1


async def test_discord_py_retries_a_rate_limited_callback(emu: Emulator, bot: SandboxBot) -> None:
    rule = emu.rate_limit(CALLBACK, times=2, retry_after=0.05)
    reply = await emu.member("alice").run("/profile", name="Ann", age=30)
    assert reply.embeds[0]["title"] == "Profile of Ann"
    assert rule.remaining == 0
    callbacks = [r for r in emu.requests if r.path.endswith("/callback")]
    assert [(r.status, r.injected) for r in callbacks] == [(429, True), (429, True), (200, False)]
    assert reply.interaction.answered_in_time
    assert emu.violations == []


async def test_discord_py_waits_out_a_global_rate_limit(emu: Emulator, bot: SandboxBot) -> None:
    general = emu.guild("alpha").channel("general")
    emu.rate_limit("GET /channels/{channel}", is_global=True, retry_after=0.05)
    channel = await bot.fetch_channel(general.id)
    assert channel.id == general.id
    fetches = [r.status for r in emu.requests if r.path == f"/channels/{general.id}"]
    assert fetches == [429, 200]
    assert [f.kind for f in emu.injected_faults] == ["global_rate_limit"]


async def test_a_429_without_via_is_a_cloudflare_ban_to_discord_py(
    emu: Emulator, bot: SandboxBot
) -> None:
    general = emu.guild("alpha").channel("general")
    emu.rate_limit("GET /channels/{channel}", via=False)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.fetch_channel(general.id)
    assert caught.value.status == 429


async def test_discord_py_does_not_retry_a_503_on_a_bot_route(
    emu: Emulator, bot: SandboxBot
) -> None:
    general = emu.guild("alpha").channel("general")
    emu.fail_requests("GET /channels/{channel}", status=503)
    with pytest.raises(discord.DiscordServerError):
        await bot.fetch_channel(general.id)
    assert [f.status for f in emu.injected_faults] == [503]
