"""Run the emulator standalone: ``python -m sandbox.server --port 8080``.

Prints the URLs and the bot token, so a bot started as a separate process can be
pointed at it (Route.BASE and DEFAULT_GATEWAY set from the printed URLs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from sandbox.emulator import Emulator
from sandbox.world import default_world


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--shards", type=int, default=1, help="shard count /gateway/bot recommends")
    parser.add_argument("--token", default=None, help="bot token to accept (default: a fresh one)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, *, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or forever)."""
    emulator = Emulator(
        default_world(token=args.token), host=args.host, port=args.port, shard_count=args.shards
    )
    await emulator.start()
    try:
        lines = [
            f"api     {emulator.api_url}",
            f"gateway {emulator.gateway_url}",
            f"token   {emulator.token}",
            f"guilds  {', '.join(f'{g.key}={g.id}' for g in emulator.world.guilds)}",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        await (stop or asyncio.Event()).wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
