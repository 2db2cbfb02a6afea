"""Memory per guild: the bot in a process of its own against a bare discord.py client.

The emulator (in the benchmark's process) serves worlds of 1,000 and 10,000 guilds, each with
5 roles and 3 channels, on 4 shards (the emulator recommends at least 4; 10,000 guilds is
2,500 a shard, Discord's most). A child process connects to it, waits until every guild has
arrived, collects garbage, hands freed memory back to the system (``malloc_trim``) and reports
its resident set size. Bytes per guild = (RSS at 10,000 − RSS at 1,000) / 9,000: what a
process costs before any guild cancels out. The child is either Bulletin, as ``python -m bot
run`` builds it (every cog, its database, the command sync), or a bare
``discord.AutoShardedClient`` with the same intents; both skip discord.py's 5 s pause between
IDENTIFYs (the emulator's is off), which changes nothing they keep. Goal: Bulletin at most
1.2× the bare client's bytes per guild.

``python -m bench.memory child --client bulletin|bare ...`` is the child; ``bench.cli`` runs the
parent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1_000, 10_000)
SHARDS = 4
GOAL = 1.2
CLIENTS = ("bulletin", "bare")
READY_SECONDS = 300.0


@dataclass
class MemoryFigures:
    """Bytes per guild of each client, each the median of ``samples`` runs per size."""

    bulletin_bytes_per_guild: float
    bare_bytes_per_guild: float
    rss: dict[str, dict[int, list[int]]]
    shards: int = SHARDS
    goal: float = GOAL

    @property
    def ratio(self) -> float:
        return self.bulletin_bytes_per_guild / self.bare_bytes_per_guild

    @property
    def met(self) -> bool:
        return self.ratio <= self.goal


# --- the child ----------------------------------------------------------------------------


def resident_bytes() -> int:
    """This process's resident set size, from /proc."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _settle() -> None:
    gc.collect()
    # Freed arenas stay counted in the RSS until glibc gives them back.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    import discord  # noqa: PLC0415 - the child alone needs it loaded

    from bot.client import Bulletin, bulletin_intents, configure_endpoints  # noqa: PLC0415
    from bot.config import Settings  # noqa: PLC0415

    settings = Settings(
        token=args.token,
        database_url=args.database,
        api_base_url=args.api,
        gateway_url=args.gateway,
    )
    configure_endpoints(settings)
    client: discord.AutoShardedClient
    if args.client == "bulletin":

        class MeasuredBulletin(Bulletin):
            async def before_identify_hook(
                self, shard_id: int | None, *, initial: bool = False
            ) -> None:
                return None

        client = MeasuredBulletin(settings)
    else:

        class BareClient(discord.AutoShardedClient):
            async def before_identify_hook(
                self, shard_id: int | None, *, initial: bool = False
            ) -> None:
                return None

        client = BareClient(intents=bulletin_intents())
    async with client:
        runner = asyncio.create_task(client.start(args.token))
        await asyncio.wait_for(client.wait_until_ready(), timeout=READY_SECONDS)
        guilds = len(client.guilds)
        shards = client.shard_count
        _settle()
        rss = resident_bytes()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    return {"client": args.client, "guilds": guilds, "shards": shards, "rss": rss}


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory child")
    parser.add_argument("--client", choices=CLIENTS, required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(_child(args))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


# --- the parent ---------------------------------------------------------------------------


async def _measure(client: str, guilds: int, database: str) -> int:
    from bot.db.migrate import upgrade  # noqa: PLC0415
    from sandbox import Emulator, default_world  # noqa: PLC0415

    await upgrade(database)
    world = default_world(guilds=guilds, members_per_guild=3)
    async with Emulator(world, shard_count=SHARDS, identify_interval=0.0) as emulator:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.memory",
            "child",
            "--client",
            client,
            "--api",
            emulator.api_url,
            "--gateway",
            emulator.gateway_url,
            "--token",
            emulator.token,
            "--database",
            database,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "LOG_LEVEL": "WARNING"},
        )
        out, _ = await asyncio.wait_for(child.communicate(), timeout=READY_SECONDS + 60)
    if child.returncode != 0:
        raise RuntimeError(f"the {client} child failed with status {child.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    if result["guilds"] != guilds or result["shards"] < SHARDS:
        raise RuntimeError(f"the {client} child saw {result}, not {guilds} guilds")
    return int(result["rss"])


async def bench_memory(*, samples: int = 3) -> MemoryFigures:
    """Each client at each size, ``samples`` times, alternating so neither gets the warmer
    machine; the median of each."""
    rss: dict[str, dict[int, list[int]]] = {c: {s: [] for s in SIZES} for c in CLIENTS}
    with tempfile.TemporaryDirectory() as folder:
        for sample in range(samples):
            order = CLIENTS if sample % 2 == 0 else tuple(reversed(CLIENTS))
            for client in order:
                for size in SIZES:
                    database = f"sqlite+aiosqlite:///{folder}/memory-{client}-{size}-{sample}.db"
                    rss[client][size].append(await _measure(client, size, database))
    small, large = SIZES

    def per_guild(client: str) -> float:
        grown = statistics.median(rss[client][large]) - statistics.median(rss[client][small])
        return grown / (large - small)

    return MemoryFigures(per_guild("bulletin"), per_guild("bare"), rss)


def memory_table(figures: MemoryFigures) -> str:
    small, large = SIZES
    lines = [
        f"{'client':<28}{'RSS at 1k MiB':>15}{'RSS at 10k MiB':>16}{'bytes/guild':>13}",
    ]
    for client, label in (
        ("bulletin", "Bulletin (bot + cogs + db)"),
        ("bare", "bare AutoShardedClient"),
    ):
        rss = figures.rss[client]
        per = (
            figures.bulletin_bytes_per_guild
            if client == "bulletin"
            else figures.bare_bytes_per_guild
        )
        lines.append(
            f"{label:<28}{statistics.median(rss[small]) / 2**20:>15.1f}"
            f"{statistics.median(rss[large]) / 2**20:>16.1f}{per:>13.0f}"
        )
    lines.append(
        f"× {figures.ratio:.2f} (goal ≤ {figures.goal}): {'yes' if figures.met else 'NO'}"
        f"  ({figures.shards} shards, guilds of 5 roles and 3 channels; "
        "(RSS at 10,000 − RSS at 1,000) / 9,000, medians)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(child_main(sys.argv[2:]))
    sys.exit("usage: python -m bench.memory child --client bulletin|bare ... (make bench runs it)")
