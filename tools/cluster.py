"""``make cluster`` (``python -m tools.cluster``): Bulletin as a cluster on this machine.

It starts the local Discord emulator (at Discord's pace: one IDENTIFY per 5 s), a database on
the test PostgreSQL server (``127.0.0.1:5432``, or ``TEST_PG_HOST``/``TEST_PG_PORT``; or the
database ``TEST_DATABASE_URL`` names, emptied), and ``--shards N`` bot processes, each a real
``python -m bot run`` with ``SHARD_COUNT=N`` and its own ``SHARD_IDS``, exactly as they would
run on N machines. It prints where each one logs and which guilds each holds, then hands the
terminal to the sandbox chat (``/about`` says which shard answered; ``:guild beta`` moves to
another server), runs ``--script FILE`` (or ``-`` for stdin), or with ``--serve`` (or no
terminal) waits. ``:quit``, Ctrl-C or SIGTERM stop every process it started and say how
each ended. With no PostgreSQL server it stops at once with one line.

It imports the bot's settings and the emulator, and nothing imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import asyncpg
from rich.console import Console
from sqlalchemy.engine import make_url

from bot.db import Database
from sandbox import Emulator, default_world, shard_for
from sandbox.chat import Chat, LoopThread, run_interactive, run_script
from tests.pg_address import AddressError, pg_address

log = logging.getLogger("cluster")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("data") / "cluster"
DATABASE_NAME = "bulletin_cluster"
# Discord's pace, which the shard processes must keep together through the database.
IDENTIFY_INTERVAL = 5.0
STOP_SECONDS = 30.0
# Settings of the shell or .env that would point a shard process at something real.
PINNED = ("DISCORD_TOKEN", "DATABASE_URL", "DEV_GUILD_ID", "SHARD_COUNT", "SHARD_IDS")
PINNED_PREFIX = "DISCORD_"


class ClusterError(Exception):
    """The cluster cannot start; the message is the one line to print."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--shards", type=int, default=2, help="shard processes (default 2)")
    parser.add_argument(
        "--guilds", type=int, default=None, help="guilds in the world (default: 2 per shard)"
    )
    parser.add_argument("--members", type=int, default=5, help="members per generated guild")
    parser.add_argument("--port", type=int, default=0, help="the emulator's port (default: free)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"logs go here ({DATA})")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--script", metavar="FILE", help="run chat lines from FILE (- for stdin)")
    mode.add_argument("--serve", action="store_true", help="no chat: wait for Ctrl-C")
    args = parser.parse_args(argv)
    if not 1 <= args.shards <= 64:
        parser.error("--shards must be from 1 to 64")
    if args.guilds is None:
        args.guilds = max(2, 2 * args.shards)
    if args.guilds < 1 or args.members < 1:
        parser.error("--guilds and --members must be at least 1")
    return args


# --- the database -------------------------------------------------------------------------


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def prepare_database(env: Mapping[str, str]) -> str:
    """The URL of an empty database for the cluster; ClusterError when no server answers."""
    override = env.get("TEST_DATABASE_URL", "").strip()
    if override:
        url = make_url(override).set(drivername="postgresql+asyncpg")
        rendered = url.render_as_string(hide_password=False)
        connection = await _connect(rendered, f"TEST_DATABASE_URL ({Database.describe_url(url)})")
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await connection.close()
        return rendered
    try:
        host, port = pg_address(env)
    except AddressError as error:
        raise ClusterError(str(error)) from None
    server = f"postgresql+asyncpg://postgres@{host}:{port}/postgres"
    connection = await _connect(server, f"{host}:{port}")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await connection.close()
    return make_url(server).set(database=DATABASE_NAME).render_as_string(hide_password=False)


async def _connect(url: str, where: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(_dsn(url), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ClusterError(
            f"no PostgreSQL server answers at {where} ({type(error).__name__}: {detail}); "
            "start one, or set TEST_DATABASE_URL (or TEST_PG_HOST/TEST_PG_PORT)"
        ) from None


# --- the shard processes ------------------------------------------------------------------


@dataclass
class ShardProcess:
    """One ``python -m bot run`` with its shard and its log file."""

    number: int
    shard_id: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    status: int | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"process {self.number} (shard {self.shard_id})"

    async def start(self, env: Mapping[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            # Its own process group: Ctrl-C in the terminal reaches this tool, which then
            # stops each process in order, rather than all of them at once.
            start_new_session=True,
        )

    async def wait(self) -> int:
        assert self.process is not None
        self.status = await self.process.wait()
        return self.status

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``STOP_SECONDS``; the exit status."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=STOP_SECONDS)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.status = self.process.returncode
        if self._log is not None:
            self._log.close()
        return self.status


def shard_environment(
    base: Mapping[str, str], emulator: Emulator, database_url: str, shards: int, shard_id: int
) -> dict[str, str]:
    """A shard process's environment: the shell's harmless settings, the cluster's own."""
    env = {k: v for k, v in base.items() if not k.startswith(PINNED_PREFIX) and k not in PINNED}
    env.update(
        DISCORD_TOKEN=emulator.token,
        DISCORD_API_BASE_URL=emulator.api_url,
        DISCORD_GATEWAY_URL=emulator.gateway_url,
        DATABASE_URL=database_url,
        # Empty rather than absent: a .env must not bring in a real development guild.
        DEV_GUILD_ID="",
        SHARD_COUNT=str(shards),
        SHARD_IDS=str(shard_id),
        PYTHONUNBUFFERED="1",
    )
    return env


def _exit_words(status: int | None) -> str:
    if status is None:
        return "never started"
    if status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"exit {status}"


class Cluster:
    """The emulator, the database and the shard processes, started and stopped together."""

    def __init__(self, args: argparse.Namespace, say: Console) -> None:
        self.args = args
        self.say = say
        self.emulator: Emulator | None = None
        self.processes: list[ShardProcess] = []
        self.database_url = ""

    def _say(self, text: str, style: str | None = None) -> None:
        # Never wrapped: a path or a URL cut in two cannot be copied.
        self.say.print(text, style=style, soft_wrap=True)

    async def start(self) -> Emulator:
        args = self.args
        self.database_url = await prepare_database(os.environ)
        world = default_world(guilds=args.guilds, members_per_guild=args.members)
        emulator = Emulator(
            world, port=args.port, shard_count=args.shards, identify_interval=IDENTIFY_INTERVAL
        )
        await emulator.start()
        self.emulator = emulator
        self._say(
            f"Bulletin cluster: {args.shards} shard process(es), one PostgreSQL database, "
            "the local Discord emulator.\n"
            f"  emulator  {emulator.api_url}  {emulator.gateway_url}  token {emulator.token}\n"
            f"  database  {Database.describe_url(self.database_url)} (emptied at each start)\n"
            f"  emulator log {args.data / 'cluster.log'}"
        )
        for shard_id in range(args.shards):
            process = ShardProcess(shard_id + 1, shard_id, args.data / f"shard-{shard_id}.log")
            env = shard_environment(os.environ, emulator, self.database_url, args.shards, shard_id)
            await process.start(env)
            self.processes.append(process)
            assert process.process is not None
            self._say(
                f"  {process.label}: pid {process.process.pid}, SHARD_COUNT={args.shards} "
                f"SHARD_IDS={shard_id}, log {process.log_path}"
            )
        self._say(
            f"Waiting for {args.shards} shard(s) to connect (one IDENTIFY every "
            f"{IDENTIFY_INTERVAL:.0f} s, as on Discord)...",
            style="dim",
        )
        began = time.monotonic()
        await self._wait_ready()
        self._say(f"Ready in {time.monotonic() - began:.1f} s.")
        for process in self.processes:
            keys = [
                g.key
                for g in emulator.world.guilds
                if shard_for(g.id, args.shards) == process.shard_id
            ]
            shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
            self._say(f"  {process.label} holds {shown or 'no guild'}")
        return emulator

    async def _wait_ready(self) -> None:
        assert self.emulator is not None
        budget = 60.0 + len(self.processes) * (IDENTIFY_INTERVAL + 1)
        ready = asyncio.ensure_future(
            self.emulator.wait_until_ready(sessions=len(self.processes), timeout=budget)
        )
        exits = {asyncio.ensure_future(p.wait()): p for p in self.processes}
        try:
            done, _ = await asyncio.wait(
                {ready, *exits}, timeout=budget, return_when=asyncio.FIRST_COMPLETED
            )
            for task, process in exits.items():
                if task in done:
                    raise ClusterError(
                        f"{process.label} stopped before it was ready "
                        f"({_exit_words(process.status)}); see {process.log_path}"
                    )
            if ready not in done:
                raise ClusterError(f"the shards were not ready within {budget:.0f} s")
            ready.result()
        finally:
            ready.cancel()
            for waiting in exits:
                waiting.cancel()
            await asyncio.gather(ready, *exits, return_exceptions=True)

    async def watch(self) -> ShardProcess:
        """Wait until one of the processes ends by itself (for ``--serve``)."""
        exits = {asyncio.ensure_future(p.wait()): p for p in self.processes}
        try:
            done, _ = await asyncio.wait(exits, return_when=asyncio.FIRST_COMPLETED)
            return exits[next(iter(done))]
        finally:
            for task in exits:
                task.cancel()
            await asyncio.gather(*exits, return_exceptions=True)

    async def stop(self) -> None:
        """Stop every process (all at once, each in order), then the emulator."""
        statuses = await asyncio.gather(*(p.stop() for p in self.processes))
        for process, status in zip(self.processes, statuses, strict=True):
            self._say(f"  {process.label}: stopped ({_exit_words(status)})")
        if self.emulator is not None:
            await self.emulator.stop()
        if self.database_url:
            self._say(
                f"The database {Database.describe_url(self.database_url)} is kept until "
                "the next start; the logs too."
            )


# --- the terminal -------------------------------------------------------------------------


def _console() -> Console:
    if sys.stdout.isatty():
        return Console(highlight=False, markup=False, emoji=False)
    return Console(
        highlight=False,
        markup=False,
        emoji=False,
        force_terminal=False,
        color_system=None,
        width=120,
    )


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    # SIGTERM stops the cluster the way Ctrl-C does, so everything is closed in order.
    raise KeyboardInterrupt


def _lines(script: str | None) -> Iterable[str] | None:
    if script == "-":
        return sys.stdin
    if script is None:
        return None
    return Path(script).read_text(encoding="utf-8").splitlines()


def _serve(cluster: Cluster, runner: LoopThread, console: Console) -> int:
    console.print("Serving; Ctrl-C stops every process.", style="dim", soft_wrap=True)
    # Blocks until a process ends by itself; Ctrl-C or SIGTERM interrupt it.
    ended = runner.call(cluster.watch())
    console.print(
        f"{ended.label} ended by itself ({_exit_words(ended.status)}); see {ended.log_path}. "
        "Stopping the others.",
        soft_wrap=True,
    )
    return EXIT_FAILURE


def _run(args: argparse.Namespace, lines: Iterable[str] | None) -> int:
    console = _console()
    runner = LoopThread(name="cluster-loop").start()
    cluster = Cluster(args, console)
    try:
        try:
            emulator = runner.call(cluster.start())
        except ClusterError as error:
            sys.stderr.write(f"make cluster: {error}\n")
            return EXIT_FAILURE
        interactive = lines is None and not args.serve and sys.stdin.isatty()
        if lines is not None:
            return run_script(Chat(emulator, console), runner, lines)
        if interactive:
            console.print(
                "You are alice in alpha. Try /about (it says which shard answered), "
                ":guild beta, /register name:Ann age:30; :quit or Ctrl-C stops the cluster.",
                style="dim",
            )
            return run_interactive(Chat(emulator, console), runner)
        return _serve(cluster, runner, console)
    except KeyboardInterrupt:
        console.print()
        return EXIT_OK
    finally:
        console.print("Stopping...", style="dim")
        with contextlib.suppress(KeyboardInterrupt):
            try:
                runner.call(cluster.stop(), timeout=STOP_SECONDS + 15)
            except Exception:
                log.exception("Stopping the cluster failed")
            runner.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        lines = _lines(args.script)
    except OSError as error:
        sys.stderr.write(f"make cluster: cannot read the script: {error}\n")
        return EXIT_CONFIG
    args.data.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=args.data / "cluster.log",
        level=logging.INFO,
        format="[%(asctime)s] [%(levelname)-8s] %(name)s: %(message)s",
    )
    # `kill -USR1` prints every thread's stack to stderr: for a cluster that will not stop.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # Ctrl-C stops the cluster even when it was started as a background job, which a shell
    # starts with SIGINT ignored (and Python keeps what it inherits).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run(args, lines)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
