"""The Emulator: one loopback Discord (HTTP API + gateway) and the handle tests hold."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

import discord.gateway
import discord.http
import yarl
from aiohttp import web

from sandbox.actions import GuildActions
from sandbox.commands import RegisteredCommand
from sandbox.driver import MemberDriver
from sandbox.errors import MissingPermissionsError, NotConnectedError
from sandbox.faults import FaultRule, rate_limit_rule, server_error_rule
from sandbox.gateway import Gateway, Session
from sandbox.http_api import build_app
from sandbox.interactions import Interaction
from sandbox.messages import Message, Ping
from sandbox.permissions import Permission, has_all
from sandbox.records import (
    AuditLogEntry,
    CommandPut,
    GatewayConnection,
    GatewayFrame,
    HttpRecord,
    InjectedFault,
    Violation,
)
from sandbox.state import Settings, State
from sandbox.world import Ban, Channel, Guild, GuildMember, Role, User, World, default_world


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
        max_guilds_per_shard: int = 2500,
        max_concurrency: int = 1,
        identify_interval: float = 5.0,
        session_start_total: int = 1000,
        privileged_intents: int = 0,
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
            max_guilds_per_shard=max_guilds_per_shard,
            max_concurrency=max_concurrency,
            identify_interval=identify_interval,
            session_start_total=session_start_total,
            privileged_intents=privileged_intents,
        )
        self.state = State(world=self.world, settings=self.settings)
        self.gateway = Gateway(self.state)
        self.actions = GuildActions(self.state, self.gateway)
        self._host = host
        self._port = port
        self._backlog = backlog
        self._runner: web.AppRunner | None = None
        self._patch: contextlib.ExitStack | None = None

    # lifecycle

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one)."""
        app = build_app(self.state, self.gateway)

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

    # the world changed by hand: a test acting as Discord, or as a member in Discord's menus

    def user(self, ref: str | int) -> User:
        """A user Discord knows (member of a guild or not), by username or id."""
        return self.world.user(ref)

    def add_user(
        self, username: str, *, global_name: str | None = None, dms_open: bool = True
    ) -> User:
        """A new Discord account, in no guild (``await emu.join(...)`` adds it to one)."""
        return self.world.add_user(username, global_name=global_name, dms_open=dms_open)

    def _acting(self, guild: Guild, by: str | int, permission: Permission) -> GuildMember:
        actor = guild.member(by)
        if not has_all(guild.guild_permissions(actor), int(permission)):
            raise MissingPermissionsError(f"{actor.key} lacks {permission.name} in {guild.key!r}")
        return actor

    def _target_rank(self, guild: Guild, actor: GuildMember, target: GuildMember) -> None:
        if not guild.outranks(actor, target):
            raise MissingPermissionsError(
                f"{actor.key} cannot act on {target.key}: the role hierarchy forbids it"
            )

    async def ban(
        self,
        user: str | int,
        guild: str | int | None = None,
        *,
        by: str | int = "owner",
        reason: str | None = None,
        delete_message_seconds: int = 0,
    ) -> bool:
        """Ban a user as a member does from Discord's menu (the bot hears GUILD_BAN_ADD).

        Checks `by`'s Ban Members and rank as the client would (MissingPermissionsError);
        returns False when the user was already banned.
        """
        where = self.guild(guild)
        actor = self._acting(where, by, Permission.BAN_MEMBERS)
        target = self.world.user(user)
        member = where.find_member(target.id)
        if member is not None:
            self._target_rank(where, actor, member)
        return await self.actions.ban(
            where,
            target,
            actor=actor.user,
            reason=reason,
            delete_message_seconds=delete_message_seconds,
        )

    async def unban(
        self,
        user: str | int,
        guild: str | int | None = None,
        *,
        by: str | int = "owner",
        reason: str | None = None,
    ) -> bool:
        """Lift a ban from Discord's menu (GUILD_BAN_REMOVE); False when there was none."""
        where = self.guild(guild)
        actor = self._acting(where, by, Permission.BAN_MEMBERS)
        return await self.actions.unban(
            where, self.world.user(user), actor=actor.user, reason=reason
        )

    async def kick(
        self,
        member: str | int,
        guild: str | int | None = None,
        *,
        by: str | int = "owner",
        reason: str | None = None,
    ) -> None:
        """Kick a member from Discord's menu (GUILD_MEMBER_REMOVE, with GUILD_MEMBERS)."""
        where = self.guild(guild)
        actor = self._acting(where, by, Permission.KICK_MEMBERS)
        target = where.member(member)
        self._target_rank(where, actor, target)
        await self.actions.kick(where, target, actor=actor.user, reason=reason)

    async def timeout(
        self,
        member: str | int,
        until: datetime | None,
        guild: str | int | None = None,
        *,
        by: str | int = "owner",
        reason: str | None = None,
    ) -> None:
        """Time a member out (or, with None, lift it) from Discord's menu."""
        where = self.guild(guild)
        actor = self._acting(where, by, Permission.MODERATE_MEMBERS)
        target = where.member(member)
        self._target_rank(where, actor, target)
        await self.actions.timeout(where, target, until, actor=actor.user, reason=reason)

    async def leave(self, member: str | int, guild: str | int | None = None) -> None:
        """A member leaves the guild (GUILD_MEMBER_REMOVE, with GUILD_MEMBERS); still a known user."""
        where = self.guild(guild)
        await self.actions.leave(where, where.member(member))

    async def join(
        self, user: str | int, guild: str | int | None = None, *, roles: Sequence[str | int] = ()
    ) -> GuildMember:
        """A known user joins a guild (GUILD_MEMBER_ADD, with GUILD_MEMBERS)."""
        where = self.guild(guild)
        role_ids = [where.role(r).id for r in roles]
        return await self.actions.join(where, self.world.user(user), role_ids)

    async def forget_user(self, user: str | int) -> User:
        """Make a user unknown to Discord (a deleted account): 10013 for a ban, 50033 for a DM."""
        found = self.world.user(user)
        await self.actions.forget_user(found)
        return found

    async def add_role(
        self,
        name: str,
        guild: str | int | None = None,
        *,
        permissions: int = 0,
        position: int | None = None,
        role_id: int | None = None,
    ) -> Role:
        """Create a role (GUILD_ROLE_CREATE); `position` defaults to above every other."""
        where = self.guild(guild)
        role = where.add_role(name, permissions=permissions, position=position, role_id=role_id)
        await self.actions.create_role(where, role, actor=where.member(where.owner_id).user)
        return role

    async def edit_role(
        self,
        role: str | int,
        guild: str | int | None = None,
        *,
        permissions: int | None = None,
        position: int | None = None,
        name: str | None = None,
    ) -> Role:
        """Change a role's permissions, position (ties allowed) or name (GUILD_ROLE_UPDATE)."""
        where = self.guild(guild)
        found = where.role(role)
        changes: dict[str, object] = {}
        if permissions is not None:
            changes["permissions"] = {"old": str(found.permissions), "new": str(permissions)}
            found.permissions = int(permissions)
        if position is not None:
            changes["position"] = {"old": found.position, "new": position}
            found.position = position
        if name is not None:
            changes["name"] = {"old": found.name, "new": name}
            found.name = name
        await self.actions.update_role(
            where, found, actor=where.member(where.owner_id).user, changes=changes
        )
        return found

    async def set_roles(
        self, member: str | int, roles: Sequence[str | int], guild: str | int | None = None
    ) -> GuildMember:
        """Replace a member's roles (GUILD_MEMBER_UPDATE: always for the bot, else with GUILD_MEMBERS)."""
        where = self.guild(guild)
        target = where.member(member)
        await self.actions.set_roles(
            where,
            target,
            [where.role(r).id for r in roles],
            actor=where.member(where.owner_id).user,
        )
        return target

    async def set_overwrite(
        self,
        channel: str | int,
        target: str | int | Role | GuildMember,
        guild: str | int | None = None,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """Set a channel overwrite for a role or member (names: a role first, then a member);
        allow = deny = 0 removes it. Sends CHANNEL_UPDATE."""
        where = self.guild(guild)
        found: Role | GuildMember
        if isinstance(target, Role | GuildMember):
            found = target
        else:
            try:
                found = where.role(target)
            except LookupError:
                found = where.member(target)
        await self.actions.set_overwrite(
            where,
            where.channel(channel),
            found,
            allow=allow,
            deny=deny,
            actor=where.member(where.owner_id).user,
        )

    async def delete_channel(
        self,
        channel: str | int,
        guild: str | int | None = None,
        *,
        by: str | int = "owner",
        reason: str | None = None,
    ) -> Channel:
        """Delete a channel (CHANNEL_DELETE, with GUILDS); the API answers 10003 for it after."""
        where = self.guild(guild)
        actor = self._acting(where, by, Permission.MANAGE_CHANNELS)
        found = where.channel(channel)
        await self.actions.delete_channel(where, found, actor=actor.user, reason=reason)
        return found

    async def post_message(
        self,
        member: str | int,
        content: str,
        channel: str | int | None = None,
        guild: str | int | None = None,
        *,
        at: datetime | None = None,
    ) -> Message:
        """A member's message in a channel (the guild's first text channel by default).

        Sends MESSAGE_CREATE (with GUILD_MESSAGES; the text only with MESSAGE_CONTENT).
        `at` back-dates it, its snowflake included, e.g. to test bulk delete's 14 days.
        """
        where = self.guild(guild)
        place = where.default_channel if channel is None else where.channel(channel)
        return await self.actions.post(where, place, where.member(member), content, at=at)

    async def delete_message(self, message: Message | int, *, by: str | int | None = None) -> None:
        """Delete a message as its author (default) or a member with Manage Messages would;
        the bot then gets an ordinary 10008 for it, not a violation."""
        found = self.state.messages[message if isinstance(message, int) else message.id]
        where = None if found.guild_id is None else self.world.guild(found.guild_id)
        actor = found.author if by is None else self.world.user(by)
        if where is not None and actor.id != found.author.id:
            self._acting(where, actor.id, Permission.MANAGE_MESSAGES)
        await self.actions.delete_messages(
            where, found.channel_id, [found], actor=actor, reason=None
        )

    # moderation records

    def audit_log(self, guild: str | int | None = None) -> list[AuditLogEntry]:
        """The guild's audit log (the first guild by default), oldest first."""
        where = self.guild(guild)
        return [e for e in self.state.audit_log if e.guild_id == where.id]

    def bans(self, guild: str | int | None = None) -> list[Ban]:
        """The guild's bans, in the order they were made."""
        return list(self.guild(guild).bans.values())

    def dms(self, user: str | int) -> list[Message]:
        """Every message the bot sent to a user's DMs, in order (deleted ones included)."""
        found = self.world.user(user)
        channel = self.world.dm_channels.get(found.id)
        if channel is None:
            return []
        return [m for m in self.state.messages.values() if m.channel_id == channel.id]

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
        """Every refusal the bot should have avoided (bodies Discord rejects, late or double
        acks, missing permissions...); ordinary answers such as 10007 or 50007 are not here."""
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
        """Every message the bot created (and members' from ``post_message``), deleted ones included."""
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
