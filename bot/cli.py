"""The command line: ``python -m bot [run|migrate|sync|sandbox]``.

``run`` (the default) migrates the database, starts the bot and stops cleanly on SIGTERM or
SIGINT with exit status 0. ``migrate`` only upgrades the schema. ``sync`` shows how the local
commands differ from Discord's and uploads them. ``sandbox`` runs the bot against the local
Discord emulator in a terminal chat: its options are defined here, its program is
``tools/sandbox_chat.py``, imported only when that command runs. Only ``run`` and ``sync`` need
``DISCORD_TOKEN``. A bad configuration value stops with one line naming it and status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

import aiohttp
import discord
from sqlalchemy.exc import SQLAlchemyError

from bot import __version__
from bot.client import Bulletin, configure_endpoints
from bot.config import ConfigError, Settings, load_settings
from bot.db import Database
from bot.db.errors import DatabaseError
from bot.log import setup_logging
from bot.parsing import NumberError, parse_snowflake
from bot.services import command_sync
from bot.sync import diff_commands, fingerprint, local_payload

log = logging.getLogger("bot")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
# Discord's gateway close code for a shard that would hold too many guilds.
SHARDING_REQUIRED = 4011

SANDBOX_DESCRIPTION = """\
Try Bulletin without a Discord account or token: the real bot, with all its cogs, runs
against a local Discord emulator (guilds "alpha" and "beta"; members owner, admin,
moderator, alice, bob, carol, dave in alpha) and you type slash commands as in Discord.

  /register name:Ann age:30          a value runs to the next option name of that command
  /post title:Hello there body:my first post
  /post title:"a: b"                 quotes are optional
  /profile member:@alice             members as @name (or name)
  :as bob   :as mod                  act as another member
  :guild beta                        switch server
  :click Next                        press a button on the last reply
  :complete /deletepost post:Hel     what Tab would offer (Tab works at the prompt)
  :members  :commands  :help  :quit  (Ctrl-D and Ctrl-C leave too)

With --script FILE (or - for stdin, or when stdin is not a terminal) the lines are run in
order and echoed after the prompt; blank lines and # comments are skipped. A line that
cannot run is explained and the script goes on; the exit status is then 1.

The data is kept in data/sandbox.db between runs (--fresh starts over) and the log goes to
data/sandbox.log. DISCORD_*, DEV_GUILD_ID, DATABASE_URL and SHARD_* from the environment or
.env are ignored; the other settings (POST_COOLDOWN_SECONDS, CONFIRM_TIMEOUT_SECONDS,
LOG_LEVEL, SQL_ECHO) apply.
"""


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _snowflake(text: str) -> int:
    try:
        return parse_snowflake(text)
    except NumberError:
        shown = text if len(text) <= 30 else text[:30] + "…"
        raise argparse.ArgumentTypeError(f"{shown!r} is not a Discord id") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Bulletin, a Discord bot for member profiles and posts. "
        "Configuration comes from the environment and .env (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"Bulletin {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="migrate the database and run the bot (the default)",
        description=(
            "Upgrade the database, log in, sync commands if they changed since the last "
            "sync, and serve until SIGTERM or SIGINT."
        ),
    )
    commands.add_parser(
        "migrate",
        help="upgrade the database schema to the newest revision",
        description="Upgrade the database at DATABASE_URL to the newest schema. Safe to run "
        "from several processes at once on PostgreSQL.",
    )
    sync = commands.add_parser(
        "sync",
        help="show what differs from Discord's commands, then upload them",
        description="Compare the bot's slash commands with what Discord holds, print the "
        "commands added, removed and changed, then upload. Without options: the global "
        "commands (visible everywhere within about an hour).",
    )
    scope = sync.add_mutually_exclusive_group()
    scope.add_argument(
        "--guild",
        type=_snowflake,
        metavar="ID",
        help="copy the global commands to this guild and sync there (they show at once)",
    )
    scope.add_argument(
        "--clear-guild",
        type=_snowflake,
        metavar="ID",
        help="remove this guild's guild-scoped copies (the fix for commands shown twice)",
    )
    sandbox = commands.add_parser(
        "sandbox",
        help="try the bot in a terminal chat against a local Discord (no token needed)",
        description=SANDBOX_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sandbox.add_argument(
        "--script",
        metavar="FILE",
        help="run the lines of FILE (- for stdin) instead of the interactive chat",
    )
    sandbox.add_argument(
        "--fresh",
        action="store_true",
        help="delete the sandbox database first and start with no profiles or posts",
    )
    sandbox.add_argument(
        "--database",
        metavar="URL",
        help="use this database instead of data/sandbox.db (e.g. postgresql://user@host/db)",
    )
    sandbox.add_argument(
        "--as",
        dest="member",
        default="alice",
        metavar="NAME",
        help="the member you start as (default: alice)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if command == "sandbox":
        # Imported here and only here: the bot's runtime never loads the emulator, aiohttp's
        # server or rich. Its own settings, log file and exit statuses apply, not the above.
        from tools import sandbox_chat  # noqa: PLC0415

        return sandbox_chat.main(args)
    try:
        settings = load_settings(require_token=command in ("run", "sync"))
    except ConfigError as error:
        sys.stderr.write(f"bulletin: configuration error: {error}\n")
        return EXIT_CONFIG
    setup_logging(settings.log_level_number, secrets=[settings.token])
    if command == "migrate":
        work = migrate(settings)
    elif command == "sync":
        work = sync(settings, guild_id=args.guild, clear_guild_id=args.clear_guild)
    else:
        work = run(settings)
    return _execute(work, settings)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _discord_api(settings: Settings) -> str:
    """Where the bot sends its HTTP API calls, and which setting said so."""
    if settings.api_base_url is None:
        return discord.http.Route.BASE
    return f"{settings.api_base_url} (DISCORD_API_BASE_URL)"


def _execute(work: Coroutine[Any, Any, int], settings: Settings) -> int:
    """Run a command to completion, turning the failures an operator can fix into one line."""
    try:
        return asyncio.run(work)
    except discord.LoginFailure:
        log.error("Discord rejected DISCORD_TOKEN (401 Unauthorized): check the token in .env")
        return EXIT_CONFIG
    except aiohttp.ClientError as error:
        # Before the OSError below: aiohttp's connection errors are OSErrors too, and this one
        # is about Discord (or DISCORD_API_BASE_URL), not the database.
        log.error("Cannot reach Discord at %s: %s", _discord_api(settings), _first_line(error))
        return EXIT_FAILURE
    except (SQLAlchemyError, DatabaseError, OSError) as error:
        log.error(
            "Database error at %s: %s",
            Database.describe_url(settings.database_url),
            _first_line(error),
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


async def migrate(settings: Settings) -> int:
    from bot.db.migrate import current_revision, upgrade  # noqa: PLC0415 - Alembic only here

    applied = await upgrade(settings.database_url)
    now = await current_revision(settings.database_url)
    where = Database.describe_url(settings.database_url)
    if applied:
        _say(f"Applied {', '.join(applied)}: {where} is at revision {now}.")
    else:
        _say(f"Nothing to apply: {where} is already at revision {now}.")
    return EXIT_OK


async def run(settings: Settings) -> int:
    assert settings.token is not None
    configure_endpoints(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Migrate before touching Discord: a database problem should stop us before login.
    status = await migrate_in_child(settings)
    if status != EXIT_OK:
        return status
    bot = Bulletin(settings)
    async with bot:
        await bot.db.connect()
        runner = asyncio.create_task(bot.start(settings.token), name="bulletin-bot")
        stopper = asyncio.create_task(stop.wait(), name="bulletin-stop-signal")
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper.done():
            log.info("Stopping on a signal")
        stopper.cancel()
        await bot.close()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        except discord.ConnectionClosed as error:
            if error.code != SHARDING_REQUIRED:
                raise
            log.error("%s", _too_few_shards(bot, error))
            return EXIT_CONFIG
    log.info("Stopped")
    return EXIT_OK


def _too_few_shards(bot: Bulletin, error: discord.ConnectionClosed) -> str:
    """The one line for Discord's close code 4011, with what to set instead."""
    recommended = bot.recommended_shards
    advice = "set SHARD_COUNT=auto" + (
        f" or at least {recommended}, the count Discord recommends" if recommended else ""
    )
    return (
        f"Discord refused shard {error.shard_id} of {bot.shard_count} with close code 4011 "
        f"(sharding required): each shard may hold at most 2,500 guilds, so SHARD_COUNT="
        f"{bot.shard_count} is too few; {advice} (every process of the deployment alike)"
    )


async def migrate_in_child(settings: Settings) -> int:
    """Run ``python -m bot migrate`` in a child process and return its exit status.

    Alembic and Mako are needed only for that moment; in a child they never take memory in
    the process that serves Discord for months. The child logs its own failure.
    """
    environment = {**os.environ, "DATABASE_URL": settings.database_url}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "migrate", env=environment
    )
    return await child.wait()


async def sync(settings: Settings, *, guild_id: int | None, clear_guild_id: int | None) -> int:
    assert settings.token is not None
    configure_endpoints(settings)
    from bot.db.migrate import upgrade  # noqa: PLC0415 - Alembic only here

    bot = Bulletin(settings, sync_on_start=False)
    async with bot:
        await upgrade(bot.db)
        await bot.login(settings.token)
        app_id = bot.application_id
        assert app_id is not None
        if clear_guild_id is not None:
            guild = discord.Object(id=clear_guild_id)
            bot.tree.clear_commands(guild=guild)
            scope, label = clear_guild_id, f"Guild {clear_guild_id} (clearing its copies)"
        elif guild_id is not None:
            guild = discord.Object(id=guild_id)
            bot.tree.copy_global_to(guild=guild)
            scope, label = guild_id, f"Guild {guild_id}"
        else:
            guild, scope, label = None, command_sync.GLOBAL_SCOPE, "Global commands"
        local = local_payload(bot.tree, guild)
        if guild is None:
            remote = await bot.http.get_global_commands(app_id)
        else:
            remote = await bot.http.get_guild_commands(app_id, guild.id)
        diff = diff_commands(local, list(remote))
        _say(diff.describe(label))
        if diff.is_empty:
            _say("Nothing to upload.")
        else:
            synced = await bot.tree.sync(guild=guild)
            if clear_guild_id is not None:
                removed = len(diff.removed)
                _say(
                    f"Removed {removed} command{'s' if removed != 1 else ''} "
                    f"from guild {clear_guild_id}."
                )
            else:
                _say(f"Uploaded {len(synced)} command(s).")
        # Its version too: a deliberate sync by an older version is how commands roll back.
        await command_sync.record(bot.db, app_id, scope, fingerprint(local), __version__)
    return EXIT_OK
