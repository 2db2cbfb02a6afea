"""Moderation routes with Discord's rules: timeouts, kicks and bans.

``PATCH /guilds/{guild}/members/{user}`` (``communication_disabled_until``), ``DELETE
/guilds/{guild}/members/{user}`` (kick), ``PUT``/``DELETE``/``GET
/guilds/{guild}/bans/{user}`` and ``GET /guilds/{guild}/bans``. Each checks what
Discord checks, in this order: the body, the target (10007 not a member, 10013 a user
Discord does not know, 10026 no ban), the bot's guild-wide permission (50013), then
the hierarchy (50013 for the owner, for a target whose top role is at or above the
bot's, and, for timeouts, for an administrator).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.actions import GuildActions
from sandbox.http_util import (
    ApiError,
    body_of,
    form_error,
    int_param,
    json_response,
    missing_permissions,
    reason_of,
    snowflake_param,
    unknown_ban,
    unknown_member,
    unknown_user,
)
from sandbox.permissions import Permission, has_all
from sandbox.state import State
from sandbox.world import Guild, GuildMember, User

JSON = dict[str, Any]

TIMEOUT_MAX = timedelta(days=28)
DELETE_MESSAGE_SECONDS_MAX = 7 * 24 * 3600
BANS_PAGE_MAX = 1000


def parse_timestamp(value: object) -> datetime | None:
    """An ISO8601 timestamp (or null) as Discord reads it; a naive one is UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise form_error(
            "communication_disabled_until",
            "DATE_TIME_TYPE_PARSE",
            f"Could not parse {value!r}. Should be ISO8601.",
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise form_error(
            "communication_disabled_until",
            "DATE_TIME_TYPE_PARSE",
            f"Could not parse {value}. Should be ISO8601.",
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Moderation:
    """Handlers for members and bans under /guilds/{guild}."""

    def __init__(
        self, state: State, actions: GuildActions, guild_of: Callable[[web.Request], Guild]
    ) -> None:
        self.state = state
        self.actions = actions
        self.guild_of = guild_of

    # shared checks

    def _bot(self, guild: Guild) -> GuildMember:
        return self.state.world.bot_member(guild)

    def _require(self, guild: Guild, permission: Permission) -> None:
        """50013 unless the bot has the permission guild-wide (channel overwrites don't count)."""
        if not has_all(guild.guild_permissions(self._bot(guild)), int(permission)):
            raise missing_permissions()

    def _require_rank(self, guild: Guild, target: GuildMember) -> None:
        """50013 for the owner, or a target whose top role is at or above the bot's."""
        if not guild.outranks(self._bot(guild), target):
            raise missing_permissions()

    @staticmethod
    def _user_id(request: web.Request) -> int | None:
        try:
            return int(request.match_info["user"])
        except ValueError:
            return None

    def _member(self, request: web.Request, guild: Guild) -> GuildMember:
        user_id = self._user_id(request)
        member = None if user_id is None else guild.find_member(user_id)
        if member is None:
            raise unknown_member()
        return member

    def _known_user(self, request: web.Request) -> User:
        user_id = self._user_id(request)
        user = None if user_id is None else self.state.world.find_user(user_id)
        if user is None:
            raise unknown_user()
        return user

    # members

    async def update_member(self, request: web.Request) -> web.Response:
        """Modify a member; the emulator supports ``communication_disabled_until`` (timeouts)."""
        guild = self.guild_of(request)
        data = body_of(request).object()
        unsupported = sorted(set(data) - {"communication_disabled_until"})
        if unsupported:
            raise ApiError(400, 0, f"sandbox: PATCH member field(s) {unsupported} are not emulated")
        timing_out = "communication_disabled_until" in data
        until = parse_timestamp(data.get("communication_disabled_until"))
        if until is not None and until > datetime.now(UTC) + TIMEOUT_MAX:
            raise form_error(
                "communication_disabled_until",
                "INVALID_COMMUNICATION_DISABLED_TIMESTAMP",
                "Invalid communication disabled timestamp",
            )
        member = self._member(request, guild)
        if timing_out:
            self._require(guild, Permission.MODERATE_MEMBERS)
            # Discord refuses timeouts on administrators (and the owner) outright.
            if guild.is_administrator(member):
                raise missing_permissions()
            self._require_rank(guild, member)
            await self.actions.timeout(
                guild, member, until, actor=self.state.world.bot, reason=reason_of(request)
            )
        return json_response(member.payload())

    async def kick(self, request: web.Request) -> web.Response:
        """Remove a member (Kick Members, and the bot must outrank them)."""
        guild = self.guild_of(request)
        member = self._member(request, guild)
        self._require(guild, Permission.KICK_MEMBERS)
        self._require_rank(guild, member)
        await self.actions.kick(
            guild, member, actor=self.state.world.bot, reason=reason_of(request)
        )
        return web.Response(status=204)

    # bans

    @staticmethod
    def _delete_message_seconds(request: web.Request) -> int:
        """``delete_message_seconds`` (0-604800) or the older ``delete_message_days`` (0-7).

        Discord's OpenAPI file puts them in a JSON body; discord.py sends
        ``delete_message_seconds`` as a query parameter, which Discord also accepts.
        """
        body = body_of(request).json
        fields: JSON = dict(body) if isinstance(body, dict) else {}
        for key in ("delete_message_seconds", "delete_message_days"):
            if key in request.query:
                fields.setdefault(key, request.query[key])
        seconds = fields.get("delete_message_seconds")
        if seconds is not None:
            return int_param(seconds, "delete_message_seconds", 0, DELETE_MESSAGE_SECONDS_MAX)
        days = fields.get("delete_message_days")
        if days is not None:
            return int_param(days, "delete_message_days", 0, 7) * 24 * 3600
        return 0

    async def ban(self, request: web.Request) -> web.Response:
        """Ban a user, member or not; a second ban of the same user is a quiet 204."""
        guild = self.guild_of(request)
        seconds = self._delete_message_seconds(request)
        user = self._known_user(request)
        self._require(guild, Permission.BAN_MEMBERS)
        if user.id in guild.bans:
            return web.Response(status=204)
        member = guild.find_member(user.id)
        if member is not None:
            self._require_rank(guild, member)
        await self.actions.ban(
            guild,
            user,
            actor=self.state.world.bot,
            reason=reason_of(request),
            delete_message_seconds=seconds,
        )
        return web.Response(status=204)

    async def unban(self, request: web.Request) -> web.Response:
        """Lift a ban (10026 when there is none)."""
        guild = self.guild_of(request)
        user = self._known_user(request)
        self._require(guild, Permission.BAN_MEMBERS)
        if not await self.actions.unban(
            guild, user, actor=self.state.world.bot, reason=reason_of(request)
        ):
            raise unknown_ban()
        return web.Response(status=204)

    async def get_ban(self, request: web.Request) -> web.Response:
        """One ban (10026 when there is none)."""
        guild = self.guild_of(request)
        self._require(guild, Permission.BAN_MEMBERS)
        user_id = self._user_id(request)
        ban = None if user_id is None else guild.bans.get(user_id)
        if ban is None:
            raise unknown_ban()
        return json_response(ban.payload())

    async def list_bans(self, request: web.Request) -> web.Response:
        """Bans by ascending user id, paged with ``limit`` (1-1000), ``after`` or ``before``."""
        guild = self.guild_of(request)
        query = request.query
        limit = int_param(query.get("limit", BANS_PAGE_MAX), "limit", 1, BANS_PAGE_MAX)
        after = snowflake_param(query["after"], "after") if "after" in query else None
        before = snowflake_param(query["before"], "before") if "before" in query else None
        self._require(guild, Permission.BAN_MEMBERS)
        bans = sorted(guild.bans.values(), key=lambda b: b.user.id)
        if before is not None:
            # The `limit` bans just below `before`, still in ascending order (discord.py
            # takes the first one's id as the next `before`).
            page = [b for b in bans if b.user.id < before][-limit:]
        else:
            page = [b for b in bans if after is None or b.user.id > after][:limit]
        return json_response([b.payload() for b in page])
