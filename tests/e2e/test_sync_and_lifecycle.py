"""Command sync on purpose, late acknowledgements, and the command tree's own quality."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.client import Bulletin, extension_names
from bot.config import Settings
from sandbox import Emulator
from tests.e2e.conftest import BotRunner

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "register",
    "profile",
    "rename",
    "leave",
    "post",
    "myposts",
    "deletepost",
    "about",
    "mod",
    "config",
    "mycases",
    "mydata",
}


async def test_a_restart_with_the_same_commands_uploads_nothing(
    runner: BotRunner, emulator: Emulator
) -> None:
    async with runner.run():
        pass
    assert len(emulator.command_puts) == 1
    assert set(emulator.command_puts[0].names) == COMMANDS
    async with runner.run():
        pass
    assert len(emulator.command_puts) == 1


async def test_a_changed_tree_is_uploaded_exactly_once(
    runner: BotRunner, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with runner.run():
        pass

    @app_commands.command(name="extra", description="A command added between two starts")
    async def extra(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("extra", ephemeral=True)

    original = Bulletin.setup_hook

    async def setup_with_extra(self: Bulletin) -> None:
        self.tree.add_command(extra)
        await original(self)

    monkeypatch.setattr(Bulletin, "setup_hook", setup_with_extra)
    async with runner.run():
        pass
    async with runner.run():
        pass
    assert len(emulator.command_puts) == 2
    assert set(emulator.command_puts[1].names) == COMMANDS | {"extra"}


async def test_dev_guild_gets_all_the_commands(runner: BotRunner, emulator: Emulator) -> None:
    alpha = emulator.guild("alpha")
    async with runner.run(dev_guild_id=alpha.id):
        assert {c.name for c in emulator.commands("alpha")} == COMMANDS
        assert emulator.commands() == []  # nothing global
        reply = await emulator.member("alice", guild="alpha").run("/register", name="Ann", age=30)
        assert "Welcome" in reply.content


async def _bot_cli(
    emulator: Emulator, database_url: str, *args: str, token: str | None = None
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DEV_GUILD"))}
    env.update(
        DISCORD_TOKEN=token or emulator.token,
        DATABASE_URL=database_url,
        DISCORD_API_BASE_URL=emulator.api_url,
        DISCORD_GATEWAY_URL=emulator.gateway_url,
        LOG_LEVEL="INFO",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_sync_command_prints_the_difference_then_uploads(
    runner: BotRunner, emulator: Emulator
) -> None:
    status, out, err = await _bot_cli(emulator, runner.database_url, "sync")
    assert status == 0, err
    for name in COMMANDS:
        assert f"+ add     /{name}" in out
    assert "Uploaded 12 command(s)." in out
    assert len(emulator.command_puts) == 1
    status, out, err = await _bot_cli(emulator, runner.database_url, "sync")
    assert status == 0, err
    assert "nothing to change" in out
    assert len(emulator.command_puts) == 1
    # The start-up after a manual sync knows it is current.
    async with runner.run():
        pass
    assert len(emulator.command_puts) == 1
    alpha = emulator.guild("alpha")
    status, out, _ = await _bot_cli(emulator, runner.database_url, "sync", "--guild", str(alpha.id))
    assert status == 0
    assert {c.name for c in emulator.commands("alpha")} == COMMANDS
    status, out, _ = await _bot_cli(
        emulator, runner.database_url, "sync", "--clear-guild", str(alpha.id)
    )
    assert status == 0
    assert "- remove  /register" in out
    assert out.endswith(f"Removed 12 commands from guild {alpha.id}.\n")
    assert "Uploaded" not in out
    assert emulator.commands("alpha") == []
    assert {c.name for c in emulator.commands()} == COMMANDS


@pytest.mark.discord_rejections
async def test_sync_command_with_a_rejected_token(runner: BotRunner, emulator: Emulator) -> None:
    wrong = "bm90LXRoZS10b2tlbg.AAAAAA.wrongwrongwrongwrongwrong"
    status, _, err = await _bot_cli(emulator, runner.database_url, "sync", token=wrong)
    assert status == 2
    assert wrong not in err
    assert "rejected DISCORD_TOKEN" in err
    assert "Traceback" not in err


@pytest.mark.late_answers
@pytest.mark.discord_rejections
async def test_a_late_acknowledgement_is_a_warning_and_the_bot_keeps_working(
    bulletin: Bulletin, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    alice = emulator.member("alice")
    emulator.settings.ack_deadline = 0.0
    with caplog.at_level(logging.WARNING):
        with pytest.raises(Exception, match="answer"):
            await alice.run("/register", name="Ann", age=30, timeout=1.0)
        for _ in range(50):
            if "expired" in caplog.text:
                break
            await asyncio.sleep(0.05)
    assert "expired" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    emulator.settings.ack_deadline = 3.0
    reply = await alice.run("/profile")
    assert reply.ephemeral


def test_every_command_and_option_has_a_real_description(tmp_path: Path) -> None:
    async def build() -> list[dict[str, Any]]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
        bot = Bulletin(Settings(token="a.b.c", database_url=url))
        for name in extension_names():
            await bot.load_extension(name)
        payload = [c.to_dict(bot.tree) for c in bot.tree.get_commands()]
        await bot.db.close()  # never started, so there is nothing else to close
        return payload

    payload = asyncio.run(build())
    assert {c["name"] for c in payload} == COMMANDS
    for command in payload:
        assert command["description"] not in ("", "…", "...")
        assert command["contexts"] == [0]  # guild only
        for option in command.get("options", []):
            assert option["description"] not in ("", "…", "..."), (command["name"], option)
