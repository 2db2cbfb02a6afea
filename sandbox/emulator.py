"""The Emulator: one loopback Discord (HTTP API + gateway) and the handle tests hold."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

import discord.gateway
import discord.http
import yarl
from aiohttp import web

from sandbox.commands import RegisteredCommand
from sandbox.driver import MemberDriver
from sandbox.errors import NotConnectedError
from sandbox.faults import FaultRule, rate_limit_rule, server_error_rule
from sandbox.gateway import Gateway, Session
from sandbox.http_api import build_app
from sandbox.interactions import Interaction
from sandbox.messages import Message, Ping
from sandbox.records import (
    CommandPut,
    GatewayConnection,
    GatewayFrame,
    HttpRecord,
    InjectedFault,
    Violation,
)
from sandbox.state import Settings, State
from sandbox.world import Guild, World, default_world


@contextlib.contextmanager
def point_discord_at(api_url: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py (process-wide) at another Discord, restoring the old targets on exit."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class Emulator:
    """A Discord on 127.0.0.1 that an unmodified discord.py bot can log in to.

    ``async with Emulator() as emu:`` starts it and points discord.py at it;
    leaving the block restores discord.py and stops the server.
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        shard_count: int = 1,
        ack_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        quiet_period: float = 0.05,
        answer_timeout: float = 5.0,
        deferred_update_grace: float = 0.5,
        heartbeat_interval_ms: int = 41_250,
        heartbeat_timeout_factor: float = 1.5,
        heartbeat_ack_delay: float = 0.02,
        backlog: int = 4096,
    ) -> None:
        self.world = world or default_world()
        self.settings = Settings(
            shard_count=shard_count,
            ack_deadline=ack_deadline,
            token_lifetime=token_lifetime,
            quiet_period=quiet_period,
            answer_timeout=answer_timeout,
            deferred_update_grace=deferred_update_grace,
            heartbeat_interval_ms=heartbeat_interval_ms,
            heartbeat_timeout_factor=heartbeat_timeout_factor,
            heartbeat_ack_delay=heartbeat_ack_delay,
        )
        self.state = State(world=self.world, settings=self.settings)
        self.gateway = Gateway(self.state)
        self._host = host
        self._port = port
        self._backlog = backlog
        self._runner: web.AppRunner | None = None
        self._patch: contextlib.ExitStack | None = None

    # lifecycle

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one)."""
        app = build_app(self.state, self.gateway.handle)

        async def close_sockets(_: web.Application) -> None:
            await self.gateway.close_all()

        app.on_shutdown.append(close_sockets)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        # A burst of concurrent callbacks opens one connection each; the default
        # backlog of 128 drops some and causes one-second client retries.
        site = web.TCPSite(runner, self._host, self._port, backlog=self._backlog)
        await site.start()
        self._runner = runner
        self._port = site.port
        self.state.base_url = f"http://{self._host}:{self._port}"

    async def stop(self) -> None:
        """Close every socket and stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def patch_discord(self) -> contextlib.AbstractContextManager[None]:
        """Point discord.py's Route.BASE and DEFAULT_GATEWAY here until the context exits."""
        return point_discord_at(self.api_url, self.gateway_url)

    async def __aenter__(self) -> Self:
        await self.start()
        stack = contextlib.ExitStack()
        stack.enter_context(self.patch_discord())
        self._patch = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._patch is not None:
            self._patch.close()
            self._patch = None
        await self.stop()

    # where

    @property
    def port(self) -> int:
        """The port listened on."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return self.state.base_url

    @property
    def api_url(self) -> str:
        """What Route.BASE should be."""
        return self.base_url + "/api/v10"

    @property
    def gateway_url(self) -> str:
        """What DEFAULT_GATEWAY should be."""
        return self.gateway.url

    @property
    def resume_gateway_url(self) -> str:
        """What READY gives as resume_gateway_url (same server, path ``/resume/``)."""
        return self.gateway.resume_url

    @property
    def token(self) -> str:
        """The bot token the emulator accepts."""
        return self.world.token

    # the world and its members

    def guild(self, ref: str | int | None = None) -> Guild:
        """A guild by key, name or id (the first guild by default)."""
        return self.world.guilds[0] if ref is None else self.world.guild(ref)

    def member(self, name: str | int, guild: str | int | None = None) -> MemberDriver:
        """A driver for a member (by username or id) of a guild (the first by default)."""
        where = self.guild(guild)
        return MemberDriver(self.state, self.gateway, where, where.member(name))

    async def wait_until_ready(self, sessions: int = 1, *, timeout: float = 10.0) -> list[Session]:  # noqa: ASYNC109 - a wait budget, not a cancel scope
        """Wait until that many bot sessions in all (restarts count) got READY and their GUILD_CREATEs."""
        return await self.gateway.wait_ready(sessions, timeout=timeout)

    async def request_reconnect(self, shard_id: int = 0) -> None:
        """Ask a shard to reconnect (op 7); discord.py resumes."""
        await self.gateway.request_reconnect(shard_id)

    async def invalidate_session(self, shard_id: int = 0, *, resumable: bool = False) -> None:
        """Invalidate a shard's session (op 9); non-resumable makes the bot IDENTIFY again."""
        await self.gateway.invalidate_session(shard_id, resumable=resumable)

    async def request_heartbeat(self, shard_id: int = 0) -> None:
        """Ask a shard for an immediate heartbeat (op 1 from the server)."""
        await self.gateway.request_heartbeat(shard_id)

    def stall_heartbeat_acks(self, shard_id: int = 0) -> list[GatewayConnection]:
        """Make a shard's current connection a zombie: no heartbeat ACK or event reaches it.

        discord.py notices after its ``heartbeat_timeout`` (a ``Client`` option, 60 s by
        default), closes with 4000 and resumes on a new, healthy connection; events sent
        meanwhile are replayed then. Raises NotConnectedError when the shard has no connection.
        """
        stalled = self.gateway.stall_heartbeat_acks(shard_id)
        if not stalled:
            raise NotConnectedError(f"shard {shard_id} has no open gateway connection")
        return stalled

    def heartbeat_timeout(self) -> float | None:
        """Seconds without a heartbeat before the server closes with 4009 (None: never)."""
        return self.gateway.heartbeat_timeout()

    async def wait_until_resumed(
        self,
        shard_id: int = 0,
        resumes: int = 1,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Session:
        """Wait until a shard has RESUMEd that many times in all; returns the resumed session."""
        return await self.gateway.wait_resumed(shard_id, resumes, timeout=timeout)

    async def wait_until(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> None:
        """Wait until `condition()` holds, re-checked whenever a frame, request or connection
        is recorded; TimeoutError after `timeout` seconds."""
        await self.state.wait_until(condition, timeout=timeout)

    # faults on request

    def rate_limit(
        self,
        route: str,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        via: bool = True,
    ) -> FaultRule:
        """Answer the next `times` requests matching `route` with 429 and ``retry_after``.

        `route` is ``"METHOD /path"`` relative to /api/v10, each ``{placeholder}`` one
        segment: ``"POST /interactions/{id}/{token}/callback"``. ``is_global`` sends
        ``"global": true`` and ``X-RateLimit-Global``; ``via=False`` leaves out the ``Via``
        header, which discord.py takes for a Cloudflare ban (it raises instead of retrying).
        """
        rule = rate_limit_rule(
            route, times=times, retry_after=retry_after, is_global=is_global, via=via
        )
        return self.state.faults.add(rule)

    def fail_requests(self, route: str, *, status: int = 503, times: int = 1) -> FaultRule:
        """Answer the next `times` requests matching `route` with a 5xx (502 as Cloudflare HTML).

        discord.py's webhook and interaction calls retry every 5xx after 1 s, 3 s...;
        its bot-token calls retry only 500, 502, 504 and 524 (a 503 raises DiscordServerError).
        """
        return self.state.faults.add(server_error_rule(route, status=status, times=times))

    def clear_faults(self) -> None:
        """Withdraw every fault rule still in force (what was injected stays recorded)."""
        self.state.faults.clear()

    # records

    @property
    def requests(self) -> list[HttpRecord]:
        """Every HTTP request the bot made, in order."""
        return self.state.requests

    @property
    def frames(self) -> list[GatewayFrame]:
        """Every gateway frame, both directions, in order."""
        return self.state.frames

    @property
    def violations(self) -> list[Violation]:
        """Every request answered with a Discord error (bodies Discord would reject, late or double acks...)."""
        return self.state.violations

    @property
    def unknown_routes(self) -> list[HttpRecord]:
        """Requests to routes the emulator (and maybe Discord) does not have."""
        return self.state.unknown_routes

    @property
    def injected_faults(self) -> list[InjectedFault]:
        """Every answer a fault rule gave (deliberate: not violations), in order."""
        return self.state.injected_faults

    @property
    def connections(self) -> list[GatewayConnection]:
        """Every gateway connection, in order: path, shard, identify/resume, how it closed."""
        return self.state.connections

    @property
    def internal_errors(self) -> list[BaseException]:
        """Exceptions inside the emulator's handlers (bugs in the sandbox, not the bot)."""
        return self.state.internal_errors

    @property
    def command_puts(self) -> list[CommandPut]:
        """Every bulk overwrite of commands."""
        return self.state.command_puts

    @property
    def interactions(self) -> list[Interaction]:
        """Every interaction dispatched, with its acknowledgement timing."""
        return self.state.interactions

    @property
    def messages(self) -> list[Message]:
        """Every message the bot created, deleted ones included."""
        return list(self.state.messages.values())

    def commands(self, guild: str | int | None = None) -> list[RegisteredCommand]:
        """Synced commands: global, or for one guild."""
        return self.state.commands.list(None if guild is None else self.guild(guild).id)

    def unanswered(self) -> list[Interaction]:
        """Interactions not acknowledged within the deadline (those still within it are skipped)."""
        return [
            i
            for i in self.state.interactions
            if not i.answered_in_time and (i.acknowledged or i.deadline_passed())
        ]

    def pings(self) -> list[Ping]:
        """Message versions whose content would notify someone."""
        return self.state.pings()

    def could_ping(self) -> list[Message]:
        """Messages with text sent without allowed_mentions that suppresses every ping."""
        return self.state.could_ping()
