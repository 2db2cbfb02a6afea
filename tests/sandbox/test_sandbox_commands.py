"""Command sync: bulk overwrite echoes, stable ids, Discord's registration rules."""

from __future__ import annotations

from typing import Any

import aiohttp
import discord

from sandbox import Emulator
from tests.sandbox.sandbox_testbot import SandboxBot


async def test_sync_is_recorded_and_ids_stay_stable(emu: Emulator, bot: SandboxBot) -> None:
    alpha = emu.guild("alpha")
    assert [(p.guild_id, "profile" in p.names) for p in emu.command_puts] == [
        (None, True),
        (alpha.id, False),
    ]
    assert emu.command_puts[1].names == ("alphaonly",)
    first = {c.name: (c.id, c.version) for c in emu.commands()}
    synced = await bot.tree.sync()
    assert {c.name: (c.id, c.version) for c in emu.commands()} == first
    assert {c.name: c.id for c in synced} == {name: ids[0] for name, ids in first.items()}
    assert len(emu.command_puts) == 3
    [guild_command] = await bot.tree.sync(guild=discord.Object(alpha.id))
    assert guild_command.guild_id == alpha.id
    assert emu.commands("alpha")[0].payload()["guild_id"] == str(alpha.id)
    ban = next(c for c in emu.commands() if c.name == "ban")
    assert ban.default_member_permissions == int(discord.Permissions(ban_members=True).value)


def _command(**overrides: Any) -> dict[str, Any]:
    return {"name": "ok", "description": "fine", "type": 1, "options": []} | overrides


def _option(name: str, *, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "d", "type": 3, "required": required} | extra


async def test_registration_rules(emu: Emulator, http: aiohttp.ClientSession) -> None:
    url = f"{emu.api_url}/applications/{emu.world.application_id}/commands"
    auth = {"Authorization": f"Bot {emu.token}"}
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([_command(name="Bad Name")], "0.name"),
        ([_command(name="x" * 33)], "0.name"),
        ([_command(description="")], "0.description"),
        ([_command(description="d" * 101)], "0.description"),
        ([_command(options=[_option(f"o{i}") for i in range(26)])], "0.options"),
        ([_command(options=[_option("a"), _option("b", required=True)])], "0.options.1.required"),
        (
            [
                _command(
                    options=[
                        _option(
                            "a", choices=[{"name": f"c{i}", "value": str(i)} for i in range(26)]
                        )
                    ]
                )
            ],
            "0.options.0.choices",
        ),
        ([_command(), _command()], "1.name"),
    ]
    for commands, path in cases:
        async with http.put(url, json=commands, headers=auth) as response:
            assert response.status == 400, path
            body = await response.json()
        assert body["code"] == 50035
        assert body["message"] == "Invalid Form Body"
        assert path in emu.violations[-1].paths, (path, emu.violations[-1].paths)
    assert emu.command_puts == []

    async with http.put(
        url, json=[_command(options=[_option("a", required=True), _option("b")])], headers=auth
    ) as response:
        assert response.status == 200
        [echoed] = await response.json()
    assert echoed["application_id"] == str(emu.world.application_id)
    assert {"id", "version"} <= set(echoed)
    assert "guild_id" not in echoed
