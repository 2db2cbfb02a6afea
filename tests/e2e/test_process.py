"""``python -m bot`` as a real process against the emulator: start, serve, restart, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sandbox import Emulator
from sandbox.snowflakes import INTERACTION_TOKEN_PREFIX

ROOT = Path(__file__).resolve().parents[2]


_LIST_MODULES_AT_EXIT = """
import atexit, pathlib, runpy, sys
def _list():
    names = sorted({{name.split(".")[0] for name in sys.modules}})
    pathlib.Path({path!r}).write_text("\\n".join(names))
atexit.register(_list)
sys.argv = ["bot", "run"]
runpy.run_module("bot", run_name="__main__")
"""


class BotProcess:
    """One ``python -m bot run`` subprocess and what it wrote."""

    def __init__(
        self,
        emulator: Emulator,
        database_url: str,
        *,
        modules_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.emulator = emulator
        self.database_url = database_url
        # More settings, such as SHARD_COUNT and SHARD_IDS.
        self.env = env or {}
        # When set, the process writes the top-level names of its loaded modules there at exit.
        self.modules_file = modules_file
        self.process: asyncio.subprocess.Process | None = None
        self._lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._logged = asyncio.Condition()

    @property
    def stderr(self) -> str:
        """Everything the process logged so far."""
        return "".join(self._lines)

    async def _drain(self) -> None:
        # Read as it comes: a long run at DEBUG would otherwise fill the pipe and block the bot.
        assert self.process is not None
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self._lines.append(raw.decode(errors="replace"))
            async with self._logged:
                self._logged.notify_all()

    async def wait_for_log(self, text: str, timeout: float = 30) -> None:  # noqa: ASYNC109
        """Wait until the log holds ``text``."""
        async with asyncio.timeout(timeout), self._logged:
            await self._logged.wait_for(lambda: text in self.stderr)

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DEV_GUILD"))}
        env.update(
            DISCORD_TOKEN=self.emulator.token,
            DATABASE_URL=self.database_url,
            DISCORD_API_BASE_URL=self.emulator.api_url,
            DISCORD_GATEWAY_URL=self.emulator.gateway_url,
            # DEBUG: discord.py then logs webhook URLs and whole gateway events, tokens included.
            LOG_LEVEL="DEBUG",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        command = ["-m", "bot"]
        if self.modules_file is not None:
            # The real `python -m bot`, observed: at exit it lists what stayed loaded.
            command = ["-c", _LIST_MODULES_AT_EXIT.format(path=str(self.modules_file))]
        self._lines = []
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.create_task(self._drain())

    async def stop(self, how: signal.Signals = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(how)
        return await self.wait()

    async def wait(self, timeout: float = 30) -> int:  # noqa: ASYNC109 - a wait budget
        """Wait for the process to end by itself; its exit status."""
        assert self.process is not None
        assert self._reader is not None
        async with asyncio.timeout(timeout):
            status = await self.process.wait()
            await self._reader
        return status


async def test_the_bot_process_serves_keeps_data_and_stops_cleanly(
    emulator: Emulator, empty_database_url: str
) -> None:
    first = BotProcess(emulator, empty_database_url)
    await first.start()
    try:
        await emulator.wait_until_ready(sessions=1, timeout=30)
        alice = emulator.member("alice")
        reply = await alice.run("/register", name="Ann", age=30)
        assert "Welcome" in reply.content
        await alice.run("/post", title="persisted")
    finally:
        status = await first.stop()
    assert status == 0, first.stderr
    assert len(emulator.command_puts) == 1

    second = BotProcess(emulator, empty_database_url)
    await second.start()
    try:
        await emulator.wait_until_ready(sessions=2, timeout=30)
        profile = await emulator.member("alice").run("/profile")
        assert profile.embeds[0]["title"] == "Ann"
        assert any(f["value"] == "1" for f in profile.embeds[0]["fields"] if f["name"] == "Posts")
    finally:
        status = await second.stop()
    assert status == 0, second.stderr
    assert len(emulator.command_puts) == 1  # unchanged tree: no second upload

    for log in (first.stderr, second.stderr):
        assert "Traceback" not in log
        assert emulator.token not in log
        assert INTERACTION_TOKEN_PREFIX not in log
        assert "INTERACTION_CREATE" in log  # the DEBUG gateway events were logged, redacted
        assert "Stopping on a signal" in log
    assert "Running upgrade" in first.stderr
    assert "Synced 12 command(s)" in first.stderr
    assert "Commands unchanged since the last sync" in second.stderr


async def test_a_confirmation_survives_a_restart_of_the_process(
    emulator: Emulator, empty_database_url: str
) -> None:
    """Issue 9: after a restart, Confirm reached the bot and was never answered."""
    first = BotProcess(emulator, empty_database_url)
    await first.start()
    try:
        await emulator.wait_until_ready(sessions=1, timeout=30)
        alice = emulator.member("alice")
        await alice.run("/register", name="Ann", age=30)
        prompt = await alice.run("/leave")
    finally:
        assert await first.stop() == 0, first.stderr

    second = BotProcess(emulator, empty_database_url)
    await second.start()
    try:
        await emulator.wait_until_ready(sessions=2, timeout=30)
        done = await prompt.click("Confirm")
        assert "Your profile and 0 posts were deleted" in done.text
        assert "/register" in (await alice.run("/profile")).text
    finally:
        assert await second.stop() == 0, second.stderr
    assert "Traceback" not in first.stderr + second.stderr


async def test_ctrl_c_stops_the_bot_cleanly(emulator: Emulator, empty_database_url: str) -> None:
    bot = BotProcess(emulator, empty_database_url)
    await bot.start()
    try:
        await emulator.wait_until_ready(sessions=1, timeout=30)
        assert (
            "Welcome" in (await emulator.member("bob").run("/register", name="Bo", age=20)).content
        )
    finally:
        status = await bot.stop(signal.SIGINT)
    assert status == 0, bot.stderr
    assert "Traceback" not in bot.stderr
    assert "Stopping on a signal" in bot.stderr


async def test_the_serving_process_keeps_no_migration_or_sandbox_code(
    emulator: Emulator, empty_database_url: str, tmp_path: Path
) -> None:
    """Alembic, Mako, rich and the emulator are not loaded where the bot serves Discord."""
    listing = tmp_path / "modules.txt"
    bot = BotProcess(emulator, empty_database_url, modules_file=listing)
    await bot.start()
    try:
        await emulator.wait_until_ready(sessions=1, timeout=30)
        reply = await emulator.member("bob").run("/register", name="Bo", age=20)
        assert "Welcome" in reply.content
    finally:
        status = await bot.stop()
    assert status == 0, bot.stderr
    assert "Running upgrade" in bot.stderr  # the migration did run, in the child
    loaded = set(listing.read_text().split())
    assert {"discord", "sqlalchemy", "aiosqlite", "asyncpg", "bot", "cogs"} <= loaded
    assert loaded & {"alembic", "mako", "rich", "sandbox", "tools"} == set()
