"""Run the emulator standalone: ``python -m sandbox.server --port 8080``.

Prints the URLs and the bot token, so a bot started as a separate process can be
pointed at it (Route.BASE and DEFAULT_GATEWAY set from the printed URLs). Options
size the world (``--guilds 1000 --members 20``), set Discord's gateway limits
(``--max-guilds-per-shard``, ``--max-concurrency``, ``--identify-interval``,
``--privileged-intents members``) and inject faults, e.g.
``--rate-limit "POST /interactions/{id}/{token}/callback|times=3|retry_after=0.5"`` or
``--fail "PATCH /webhooks/{app}/{token}/messages/@original|status=503|times=2"``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from sandbox.emulator import Emulator
from sandbox.gateway import INTENT_NAMES
from sandbox.world import default_world

FAULT_HELP = "ROUTE[|key=value...], repeatable; ROUTE is 'METHOD /path/{placeholder}'"


def _fault(text: str, allowed: dict[str, type]) -> tuple[str, dict[str, Any]]:
    """Parse ``"POST /x/{id}|times=2|global"`` into the route and typed options."""
    route, *parts = [p.strip() for p in text.split("|")]
    options: dict[str, Any] = {}
    for part in parts:
        key, _, value = part.partition("=")
        key = key.strip().replace("-", "_")
        kind = allowed.get(key)
        if kind is None:
            raise argparse.ArgumentTypeError(
                f"unknown fault option {key!r} in {text!r} (options: {', '.join(allowed)})"
            )
        try:
            options[key] = True if kind is bool and not value else kind(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"bad value for {key} in {text!r}") from exc
    return route, options


def rate_limit_fault(text: str) -> tuple[str, dict[str, Any]]:
    """``--rate-limit`` values: times, retry_after, global."""
    route, options = _fault(text, {"times": int, "retry_after": float, "global": bool})
    if "global" in options:
        options["is_global"] = options.pop("global")
    return route, options


def server_error_fault(text: str) -> tuple[str, dict[str, Any]]:
    """``--fail`` values: status, times."""
    return _fault(text, {"status": int, "times": int})


def intents(text: str) -> int:
    """``members,message_content`` (or ``all``/``none``) as intent bits."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["none"]:
        return 0
    if names == ["all"]:
        names = list(INTENT_NAMES)
    unknown = [n for n in names if n not in INTENT_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown privileged intent(s) {unknown}; choose from {', '.join(INTENT_NAMES)}"
        )
    bits = 0
    for name in names:
        bits |= INTENT_NAMES[name]
    return bits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--shards", type=int, default=1, help="least shard count /gateway/bot recommends"
    )
    parser.add_argument("--token", default=None, help="bot token to accept (default: a fresh one)")
    world = parser.add_argument_group("the world")
    world.add_argument(
        "--guilds", type=int, default=2, help="guilds in all: alpha, beta, guild3... (default 2)"
    )
    world.add_argument(
        "--members", type=int, default=5, help="members of each generated guild (default 5)"
    )
    gateway = parser.add_argument_group("gateway limits (Discord's by default)")
    gateway.add_argument("--max-guilds-per-shard", type=int, default=2500, help="else 4011")
    gateway.add_argument("--max-concurrency", type=int, default=1, help="IDENTIFY buckets")
    gateway.add_argument(
        "--identify-interval",
        type=float,
        default=5.0,
        help="seconds between IDENTIFYs of one bucket (sooner: op 9)",
    )
    gateway.add_argument("--session-start-total", type=int, default=1000)
    gateway.add_argument(
        "--privileged-intents",
        type=intents,
        default=0,
        help="enabled for the application: members, presences, message_content, all (else 4014)",
    )
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--rate-limit",
        type=rate_limit_fault,
        action="append",
        default=[],
        help=f"answer with 429: {FAULT_HELP}; keys times, retry_after, global",
    )
    faults.add_argument(
        "--fail",
        type=server_error_fault,
        action="append",
        default=[],
        help=f"answer with a 5xx: {FAULT_HELP}; keys status, times",
    )
    args = parser.parse_args(argv)
    if args.guilds < 1:
        parser.error("--guilds must be at least 1")
    return args


def build(args: argparse.Namespace) -> Emulator:
    """The emulator the options describe (not started)."""
    emulator = Emulator(
        default_world(token=args.token, guilds=args.guilds, members_per_guild=args.members),
        host=args.host,
        port=args.port,
        shard_count=args.shards,
        max_guilds_per_shard=args.max_guilds_per_shard,
        max_concurrency=args.max_concurrency,
        identify_interval=args.identify_interval,
        session_start_total=args.session_start_total,
        privileged_intents=args.privileged_intents,
    )
    for route, options in args.rate_limit:
        emulator.rate_limit(route, **options)
    for route, options in args.fail:
        emulator.fail_requests(route, **options)
    return emulator


async def serve(args: argparse.Namespace, *, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or forever)."""
    emulator = build(args)
    await emulator.start()
    try:
        guilds = emulator.world.guilds
        shown = ", ".join(f"{g.key}={g.id}" for g in guilds[:10])
        lines = [
            f"api     {emulator.api_url}",
            f"gateway {emulator.gateway_url}",
            f"token   {emulator.token}",
            f"guilds  {shown}" + (f" ... ({len(guilds)} in all)" if len(guilds) > 10 else ""),
            f"shards  {emulator.gateway.recommended_shards()} recommended"
            f" (at most {emulator.settings.max_guilds_per_shard} guilds each)",
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
