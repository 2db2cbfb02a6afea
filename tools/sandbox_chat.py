"""``python -m bot sandbox``: the real bot against the loopback Discord, in a terminal chat.

It starts ``sandbox.Emulator`` and the unmodified ``Bulletin`` (every cog) on a sandbox
database, then hands the terminal to ``sandbox.chat``: typed slash commands or a script of
them. No token is needed and nothing leaves the machine. The log goes to ``data/sandbox.log``
so the chat stays readable; the database, ``data/sandbox.db``, is kept between runs.

This module imports both the bot and the emulator, and neither imports it: ``bot/cli.py``
defines the ``sandbox`` sub-command's options and imports this module only when that command
runs, so ``python -m bot run`` never loads the emulator, aiohttp's server or ``rich``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import IO

from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from bot.client import Bulletin
from bot.config import ConfigError, Settings, load_settings, read_environment
from bot.db import Database
from bot.db.database import sqlite_path
from bot.db.migrate import upgrade
from bot.log import setup_logging
from sandbox import Emulator, World, default_world
from sandbox.chat import Chat, LoopThread, run_interactive, run_script

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

DATA = Path("data")
DATABASE_FILE = DATA / "sandbox.db"
LOG_FILE = DATA / "sandbox.log"
HISTORY_FILE = DATA / "sandbox_history"
READY_TIMEOUT = 20.0
LOG_FORMAT = logging.Formatter(
    "[{asctime}] [{levelname:<8}] {name}: {message}", "%Y-%m-%d %H:%M:%S", style="{"
)
# A real .env must not leak into the sandbox: no token, no real guild, no production
# database, and the emulator decides the sharding.
IGNORED_VARIABLES = ("DATABASE_URL", "DEV_GUILD_ID", "SHARD_COUNT", "SHARD_IDS")
IGNORED_PREFIX = "DISCORD_"


def sandbox_environment(env: Mapping[str, str | None]) -> dict[str, str | None]:
    """The environment without the variables that could point the sandbox at real things."""
    return {
        k: v
        for k, v in env.items()
        if not k.startswith(IGNORED_PREFIX) and k not in IGNORED_VARIABLES
    }


def sandbox_settings(env: Mapping[str, str | None], database: str | None) -> Settings:
    """Settings for the sandbox: the harmless ones from ``env``, the sandbox database."""
    values = sandbox_environment(env)
    values["DATABASE_URL"] = database or f"sqlite+aiosqlite:///{DATABASE_FILE.as_posix()}"
    return load_settings(values, require_token=False)


def remove_sqlite(url: str) -> bool:
    """Delete a SQLite database and its journal files; False if ``url`` is not SQLite."""
    path = sqlite_path(url)
    if path is None:
        return False
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return True


class SandboxBot:
    """The emulator and the bot on it, started and stopped on the sandbox's event loop."""

    def __init__(self, settings: Settings, world: World) -> None:
        self.settings = settings
        self.world = world
        self.emulator: Emulator | None = None
        self.bot: Bulletin | None = None
        self._task: asyncio.Task[None] | None = None
        self._stack = contextlib.AsyncExitStack()

    async def start(self) -> Emulator:
        """Start the emulator, migrate the database, start the bot and wait until it is ready."""
        emulator = await self._stack.enter_async_context(Emulator(self.world))
        self.emulator = emulator
        settings = dataclasses.replace(self.settings, token=emulator.token)
        db = Database(settings.database_url, echo=settings.sql_echo)
        # bot.close() disposes it too; this covers a failure before the bot exists.
        self._stack.push_async_callback(db.dispose)
        await upgrade(db)
        # The emulator starts with no commands each run, while the database remembers the
        # last sync: upload whatever it says.
        bot = Bulletin(settings, db=db, force_sync=True, guild_ready_timeout=0.05)
        self.bot = bot
        self._task = asyncio.create_task(bot.start(emulator.token), name="bulletin-sandbox")
        ready = asyncio.create_task(bot.wait_until_ready(), name="bulletin-sandbox-ready")
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises what stopped the bot
            raise TimeoutError(f"the bot did not become ready within {READY_TIMEOUT:.0f} s")
        log.info("Sandbox ready: %s", Database.describe_url(settings.database_url))
        return emulator

    async def stop(self) -> None:
        """Close the bot (and its database), then the emulator; safe after a failed start."""
        try:
            if self.bot is not None:
                await self.bot.close()
            if self._task is not None:
                try:
                    await asyncio.wait_for(self._task, timeout=10)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("The bot stopped with an error")
        finally:
            await self._stack.aclose()


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    # SIGTERM stops the chat the way Ctrl-C does, so everything is closed in order.
    raise KeyboardInterrupt


@contextlib.contextmanager
def _log_to(path: Path, level: int, secrets: Iterable[str]) -> Iterator[IO[str]]:
    """Send all logging (and warnings) to ``path`` through the bot's redacting handler."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        # discord.py picks colour codes inside Docker even for a file; a log file wants text.
        handler = setup_logging(level, secrets=secrets, stream=stream, formatter=LOG_FORMAT)
        logging.captureWarnings(True)
        try:
            yield stream
        finally:
            logging.captureWarnings(False)
            logging.getLogger().removeHandler(handler)
            handler.close()


def _console() -> Console:
    if sys.stdout.isatty():
        return Console(highlight=False, markup=False, emoji=False)
    # Piped or captured: no colour codes, a fixed width, the same text every run.
    return Console(
        highlight=False,
        markup=False,
        emoji=False,
        force_terminal=False,
        color_system=None,
        width=100,
    )


def _lines(script: str | None) -> Iterable[str] | None:
    """The script's lines, or None for the interactive chat."""
    if script == "-" or (script is None and not sys.stdin.isatty()):
        return sys.stdin
    if script is None:
        return None
    return Path(script).read_text(encoding="utf-8").splitlines()


def describe_data(where: str, *, fresh: bool, sqlite: bool) -> str:
    """The banner's words for the sandbox's database: where it is and what happens to it."""
    if fresh:
        return f"{where} (emptied by --fresh; kept from now on)"
    if sqlite:
        return f"{where} (kept between runs; --fresh starts over)"
    return f"{where} (kept between runs)"


def _intro(chat: Chat, data: str) -> str:
    guilds = ", ".join(g.key for g in chat.emulator.world.guilds)
    return (
        "Bulletin sandbox: the real bot on a local Discord (no token; nothing leaves this "
        f"machine).\nServers: {guilds}. Data: {data}. Log: {LOG_FILE}.\n"
        f"You are {chat.member_name} in {chat.guild_key}. Try /register name:Ann age:30 — "
        "Tab completes, :help shows more, :quit leaves."
    )


def main(args: argparse.Namespace) -> int:
    """Run the sandbox chat; the exit status."""
    try:
        settings = sandbox_settings(read_environment(), args.database)
        lines = _lines(args.script)
    except ConfigError as error:
        sys.stderr.write(f"bulletin: configuration error: {error}\n")
        return EXIT_CONFIG
    except OSError as error:
        sys.stderr.write(f"bulletin: cannot read the script: {error}\n")
        return EXIT_CONFIG
    path = sqlite_path(settings.database_url)
    where = path.as_posix() if path is not None else Database.describe_url(settings.database_url)
    if args.fresh and not remove_sqlite(settings.database_url):
        sys.stderr.write(f"bulletin: --fresh only deletes a SQLite file, not {where}\n")
        return EXIT_CONFIG
    world = default_world()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        data = describe_data(where, fresh=args.fresh, sqlite=path is not None)
        with _log_to(LOG_FILE, settings.log_level_number, [world.token]):
            return _run(settings, world, lines, member=args.member, where=where, data=data)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _start(
    runner: LoopThread, sandbox: SandboxBot, console: Console, member: str, where: str
) -> Chat | int:
    """The chat on a started sandbox, or the exit status after saying why it did not start."""
    try:
        emulator = runner.call(sandbox.start())
        return Chat(emulator, console, member=member)
    except LookupError as error:  # --as names nobody
        sys.stderr.write(f"bulletin: {error.args[0]}\n")
        return EXIT_CONFIG
    except (SQLAlchemyError, OSError) as error:
        log.exception("The sandbox could not start")
        first = (str(error).strip().splitlines() or [""])[0]
        sys.stderr.write(f"bulletin: database error at {where}: {type(error).__name__}: {first}\n")
        return EXIT_FAILURE
    except Exception as error:
        log.exception("The sandbox could not start")
        sys.stderr.write(f"bulletin: the sandbox could not start: {error} (see {LOG_FILE})\n")
        return EXIT_FAILURE


def _run(
    settings: Settings,
    world: World,
    lines: Iterable[str] | None,
    *,
    member: str,
    where: str,
    data: str,
) -> int:
    console = _console()
    runner = LoopThread().start()
    sandbox = SandboxBot(settings, world)
    try:
        chat = _start(runner, sandbox, console, member, where)
        if isinstance(chat, int):
            return chat
        if lines is None:
            console.print(_intro(chat, data), style="dim")
            return run_interactive(chat, runner, history=HISTORY_FILE)
        return run_script(chat, runner, lines)
    except KeyboardInterrupt:
        console.print()
        return EXIT_OK
    except Exception as error:
        # The bot's own failures are replies; this is the chat itself (or its terminal).
        log.exception("The sandbox chat failed")
        sys.stderr.write(f"bulletin: the sandbox chat failed: {error} (see {LOG_FILE})\n")
        return EXIT_FAILURE
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            try:
                runner.call(sandbox.stop(), timeout=30)
            except Exception:
                log.exception("Stopping the sandbox failed")
            runner.close()
        if runner.leftovers:
            log.warning("Tasks still running at exit were cancelled: %s", runner.leftovers)
        log.info("Sandbox stopped")


__all__ = [
    "DATABASE_FILE",
    "LOG_FILE",
    "SandboxBot",
    "describe_data",
    "main",
    "remove_sqlite",
    "sandbox_environment",
    "sandbox_settings",
]
