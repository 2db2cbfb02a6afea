"""The HTTP API under /api/v10: login, gateway discovery, command sync, channel messages.

Interaction callbacks and webhook routes live in `sandbox.webhooks`; this module
assembles the aiohttp application, records every request, answers the faults a test
injected (`sandbox.faults`) and adds the headers discord.py reads (exact JSON
Content-Type, rate-limit headers).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.actions import GuildActions
from sandbox.faults import RATE_LIMIT, FaultRule
from sandbox.gateway import RESUME_PATH, Gateway
from sandbox.http_util import (
    BODY_KEY,
    REASON_KEY,
    ApiError,
    Body,
    body_of,
    cannot_dm,
    check_reason,
    decode_reason,
    empty_message,
    entity_too_large,
    form_error,
    invalid_recipient,
    json_response,
    missing_access,
    missing_permissions,
    read_body,
    reason_of,
    unknown_channel,
    unknown_member,
    unknown_message,
    unknown_user,
)
from sandbox.messages import Message
from sandbox.moderation import Moderation
from sandbox.permissions import Permission
from sandbox.records import CommandPut, HttpRecord, Violation
from sandbox.rules import (
    FormErrors,
    check_command,
    check_command_list,
    check_message,
    is_empty_message,
)
from sandbox.snowflakes import snowflake_time
from sandbox.state import State
from sandbox.webhooks import Webhooks, edit_message
from sandbox.world import Channel, DMChannel, Guild

JSON = dict[str, Any]
API_PREFIX = "/api/v10"
BULK_DELETE_MIN = 2
BULK_DELETE_MAX = 100
BULK_DELETE_MAX_AGE = timedelta(days=14)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpApi:
    """Request handlers over the shared state."""

    def __init__(self, state: State, gateway: Gateway) -> None:
        self.state = state
        self.gateway = gateway
        self.webhooks = Webhooks(state, body_of)
        self.actions = GuildActions(state, gateway)
        self.moderation = Moderation(state, self.actions, self._bot_guild)

    # plumbing

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Parse and record every API request; turn ApiError into Discord's error body."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        started = time.time()
        path = request.path.removeprefix(API_PREFIX)
        body = Body()
        response: web.StreamResponse
        answer: Any = None
        fault: FaultRule | None = None
        reason = decode_reason(request)
        try:
            body = await read_body(request)
            request[BODY_KEY] = body
            if reason is not None:
                request[REASON_KEY] = reason
            fault = self.state.faults.take(request.method, path)
            if fault is not None:
                # Answered before any handler runs, as Discord's edge would: nothing happens.
                response, answer = fault.answer()
            else:
                check_reason(reason)
                if sum(len(f.data) for f in body.files) > self.state.settings.attachment_size_limit:
                    raise entity_too_large()
                response = await handler(request)
        except ApiError as error:
            answer = error.body()
            response = json_response(answer, error.status)
            if error.violation:
                self._note_error(request, error, body)
        except Exception as exc:
            # An emulator bug must surface in the test (conftest asserts none), not as a log line.
            self.state.internal_errors.append(exc)
            # 400, not 500: discord.py retries a 500 for seconds before giving up.
            answer = {"message": f"sandbox internal error: {exc!r}", "code": 0}
            response = json_response(answer, 400)
        if (
            isinstance(response, web.Response)
            and answer is None
            and isinstance(response.body, bytes)
        ):
            answer = (
                json.loads(response.body) if response.content_type == "application/json" else None
            )
        record = HttpRecord(
            method=request.method,
            path=path,
            query=dict(request.query),
            body=body.json,
            status=response.status,
            at=started,
            files=tuple(f.filename for f in body.files),
            response=answer,
            injected=fault is not None,
            reason=reason,
        )
        self.state.requests.append(record)
        if fault is not None:
            self.state.injected_faults.append(fault.record(request.method, path, body.json))
        elif response.status == 404 and request.match_info.route.name == "unknown":
            self.state.unknown_routes.append(record)
        if fault is None or fault.kind == RATE_LIMIT:
            # A global limit is not a bucket's: Discord sends no per-route headers with it.
            self._rate_limit_headers(
                request, response, exhausted_for=None if fault is None else fault.retry_after
            )
        self.state.notify()
        return response

    def _note_error(self, request: web.Request, error: ApiError, body: Body) -> None:
        self.state.violations.append(
            Violation(
                method=request.method,
                path=request.path.removeprefix(API_PREFIX),
                status=error.status,
                code=error.code,
                message=error.message,
                errors=error.errors,
                paths=error.paths,
                body=body.json,
            )
        )

    @staticmethod
    def _rate_limit_headers(
        request: web.Request, response: web.StreamResponse, *, exhausted_for: float | None = None
    ) -> None:
        route = request.match_info.route.resource
        key = route.canonical if route is not None else request.path
        bucket = hashlib.md5(f"{request.method} {key}".encode(), usedforsecurity=False).hexdigest()
        now = time.time()
        # An (injected) 429 says the bucket is empty until its retry_after has passed.
        reset_after = 1.0 if exhausted_for is None else exhausted_for
        response.headers.update(
            {
                "X-RateLimit-Limit": "10000",
                "X-RateLimit-Remaining": "9999" if exhausted_for is None else "0",
                "X-RateLimit-Reset": f"{now + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket,
            }
        )

    def _require_bot(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.state.world.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    def _require_app(self, request: web.Request) -> None:
        self._require_bot(request)
        if request.match_info.get("app") != str(self.state.world.application_id):
            raise ApiError(
                403, 20012, "You are not authorized to perform this action on this application"
            )

    def _guild(self, request: web.Request) -> Guild:
        try:
            guild = self.state.world.guild(int(request.match_info["guild"]))
        except (LookupError, ValueError) as exc:
            raise ApiError(404, 10004, "Unknown Guild") from exc
        if guild.find_member(self.state.world.bot.id) is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def _bot_guild(self, request: web.Request) -> Guild:
        """The route's guild, for a request with the bot token."""
        self._require_bot(request)
        return self._guild(request)

    def routes(self) -> list[web.RouteDef]:
        """Every API route; anything else falls to the recorded 404."""
        p = API_PREFIX
        cmds = p + "/applications/{app}/commands"
        guild_cmds = p + "/applications/{app}/guilds/{guild}/commands"
        hook = p + "/webhooks/{app}/{token}"
        return [
            web.get(p + "/users/@me", self.get_me),
            web.get(p + "/users/{user}", self.get_user),
            web.get(p + "/oauth2/applications/@me", self.get_application),
            web.get(p + "/applications/@me", self.get_application),
            web.get(p + "/gateway", self.get_gateway),
            web.get(p + "/gateway/bot", self.get_gateway_bot),
            web.get(cmds, self.list_commands),
            web.put(cmds, self.put_commands),
            web.post(cmds, self.post_command),
            web.get(cmds + "/{command}", self.get_command),
            web.patch(cmds + "/{command}", self.patch_command),
            web.delete(cmds + "/{command}", self.delete_command),
            web.get(guild_cmds + "/permissions", self.command_permissions),
            web.get(guild_cmds, self.list_commands),
            web.put(guild_cmds, self.put_commands),
            web.post(guild_cmds, self.post_command),
            web.get(guild_cmds + "/{command}", self.get_command),
            web.patch(guild_cmds + "/{command}", self.patch_command),
            web.delete(guild_cmds + "/{command}", self.delete_command),
            web.post(p + "/interactions/{interaction}/{token}/callback", self.webhooks.callback),
            web.post(hook, self.webhooks.followup),
            web.get(hook + "/messages/{message}", self.webhooks.get_message),
            web.patch(hook + "/messages/{message}", self.webhooks.edit_message),
            web.delete(hook + "/messages/{message}", self.webhooks.delete_message),
            web.get(p + "/channels/{channel}", self.get_channel),
            web.post(p + "/channels/{channel}/messages", self.post_channel_message),
            web.get(p + "/channels/{channel}/messages/{message}", self.get_channel_message),
            web.patch(p + "/channels/{channel}/messages/{message}", self.patch_channel_message),
            web.delete(p + "/channels/{channel}/messages/{message}", self.delete_channel_message),
            web.post(p + "/channels/{channel}/messages/bulk-delete", self.bulk_delete),
            web.get("/attachments/{channel}/{attachment}/{filename}", self.get_attachment),
            web.get(p + "/guilds/{guild}/members/{user}", self.get_member),
            web.patch(p + "/guilds/{guild}/members/{user}", self.moderation.update_member),
            web.delete(p + "/guilds/{guild}/members/{user}", self.moderation.kick),
            web.get(p + "/guilds/{guild}/bans", self.moderation.list_bans),
            web.get(p + "/guilds/{guild}/bans/{user}", self.moderation.get_ban),
            web.put(p + "/guilds/{guild}/bans/{user}", self.moderation.ban),
            web.delete(p + "/guilds/{guild}/bans/{user}", self.moderation.unban),
            web.post(p + "/users/@me/channels", self.create_dm),
        ]

    @staticmethod
    async def unknown(request: web.Request) -> web.Response:
        """Discord's answer to a route it does not have."""
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    # identity

    async def get_me(self, request: web.Request) -> web.Response:
        """The bot user; 401 for a wrong token (discord.py turns that into LoginFailure)."""
        self._require_bot(request)
        bot = self.state.world.bot
        return json_response(
            bot.payload() | {"verified": True, "mfa_enabled": False, "locale": "en-US"}
        )

    async def get_user(self, request: web.Request) -> web.Response:
        """Any user Discord knows (10013 for one it does not)."""
        self._require_bot(request)
        try:
            user = self.state.world.find_user(int(request.match_info["user"]))
        except ValueError:
            user = None
        if user is None:
            raise unknown_user()
        return json_response(user.payload())

    async def get_application(self, request: web.Request) -> web.Response:
        """The application; interactions_endpoint_url null so interactions come over the gateway."""
        self._require_bot(request)
        world = self.state.world
        app_id = str(world.application_id)
        owner = world.guilds[0].member(world.guilds[0].owner_id).user if world.guilds else world.bot
        return json_response(
            {
                "id": app_id,
                "name": world.application_name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": owner.payload(),
                "team": None,
                "bot": world.bot.payload(),
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "tags": [],
                "approximate_guild_count": len(world.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        """Where the gateway is."""
        return json_response({"url": self._gateway_url()})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """Gateway URL, recommended shard count and session start limits."""
        self._require_bot(request)
        return json_response(
            {
                "url": self._gateway_url(),
                "shards": self.gateway.recommended_shards(),
                "session_start_limit": self.gateway.session_start_limit(),
            }
        )

    def _gateway_url(self) -> str:
        return self.state.base_url.replace("http://", "ws://", 1) + "/"

    # application commands

    def _scope(self, request: web.Request) -> int | None:
        self._require_app(request)
        return self._guild(request).id if "guild" in request.match_info else None

    async def list_commands(self, request: web.Request) -> web.Response:
        """The scope's registered commands."""
        scope = self._scope(request)
        return json_response([c.payload() for c in self.state.commands.list(scope)])

    async def put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite, validated like Discord; every PUT is recorded."""
        scope = self._scope(request)
        commands = body_of(request).json
        errors = FormErrors()
        check_command_list(commands, errors)
        if errors:
            raise ApiError.invalid_form(errors)
        assert isinstance(commands, list)
        self.state.command_puts.append(
            CommandPut(
                guild_id=scope,
                names=tuple(str(c["name"]) for c in commands),
                at=time.time(),
                body=commands,
            )
        )
        stored = self.state.commands.overwrite(scope, commands)
        return json_response([c.payload() for c in stored])

    async def post_command(self, request: web.Request) -> web.Response:
        """Create or replace one command (201 when new)."""
        scope = self._scope(request)
        data = body_of(request).object()
        errors = FormErrors()
        check_command(data, errors, ())
        if errors:
            raise ApiError.invalid_form(errors)
        command, created = self.state.commands.upsert(scope, data)
        return json_response(command.payload(), 201 if created else 200)

    def _command_id(self, request: web.Request) -> int:
        try:
            return int(request.match_info["command"])
        except ValueError as exc:
            raise ApiError(404, 10063, "Unknown application command") from exc

    async def get_command(self, request: web.Request) -> web.Response:
        """One command."""
        scope = self._scope(request)
        found = self.state.commands.get(scope, self._command_id(request))
        if found is None:
            raise ApiError(404, 10063, "Unknown application command")
        return json_response(found.payload())

    async def patch_command(self, request: web.Request) -> web.Response:
        """Partially edit one command."""
        scope = self._scope(request)
        command_id = self._command_id(request)
        found = self.state.commands.get(scope, command_id)
        if found is None:
            raise ApiError(404, 10063, "Unknown application command")
        changes = body_of(request).object()
        errors = FormErrors()
        check_command({**found.data, **changes}, errors, ())
        if errors:
            raise ApiError.invalid_form(errors)
        updated = self.state.commands.edit(scope, command_id, changes)
        assert updated is not None
        return json_response(updated.payload())

    async def delete_command(self, request: web.Request) -> web.Response:
        """Delete one command."""
        scope = self._scope(request)
        if not self.state.commands.delete(scope, self._command_id(request)):
            raise ApiError(404, 10063, "Unknown application command")
        return web.Response(status=204)

    async def command_permissions(self, request: web.Request) -> web.Response:
        """No per-command permission overrides exist in the emulator."""
        self._scope(request)
        return json_response([])

    # channels and messages sent with the bot token

    def _channel(self, request: web.Request) -> tuple[Guild | None, Channel | DMChannel]:
        """The route's channel: a guild channel, or one of the bot's DM channels."""
        self._require_bot(request)
        try:
            channel_id = int(request.match_info["channel"])
        except ValueError as exc:
            raise unknown_channel() from exc
        world = self.state.world
        for guild in world.guilds:
            for channel in guild.channels:
                if channel.id == channel_id:
                    return guild, channel
        dm = world.dm_channel(channel_id)
        if dm is not None:
            return None, dm
        # A channel someone deleted is an ordinary 10003 (a race every bot must handle);
        # an id that never was a channel is the bot's mistake.
        deleted = any(c.id == channel_id for g in world.guilds for c in g.deleted_channels)
        raise unknown_channel(violation=not deleted)

    def _bot_permissions(self, guild: Guild, channel: Channel) -> int:
        bot = self.state.world.bot_member(guild)
        return guild.permissions_in(bot, channel)

    async def get_channel(self, request: web.Request) -> web.Response:
        """A channel object."""
        guild, channel = self._channel(request)
        if isinstance(channel, DMChannel):
            return json_response(channel.payload())
        assert guild is not None
        if not self._bot_permissions(guild, channel) & Permission.VIEW_CHANNEL:
            raise missing_access()
        return json_response(channel.payload(guild.id))

    async def create_dm(self, request: web.Request) -> web.Response:
        """Open (or return) the bot's DM channel with a user; sending may still get 50007."""
        self._require_bot(request)
        data = body_of(request).object()
        raw = data.get("recipient_id")
        if raw is None:
            raise form_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
        try:
            recipient_id = int(raw)
        except (TypeError, ValueError) as exc:
            raise form_error(
                "recipient_id", "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.'
            ) from exc
        world = self.state.world
        user = world.find_user(recipient_id)
        if user is None or user.id == world.bot.id:
            raise invalid_recipient()
        channel = world.dm_channels.get(user.id)
        if channel is None:
            channel = DMChannel(id=self.state.ids.next(), recipient=user)
            world.dm_channels[user.id] = channel
        return json_response(channel.payload())

    def _check_send(
        self,
        guild: Guild | None,
        channel: Channel | DMChannel,
        data: dict[str, Any],
        has_files: bool,
    ) -> dict[str, Any]:
        """Discord's permission checks for a new message; returns the body as Discord keeps it."""
        if isinstance(channel, DMChannel):
            world = self.state.world
            user = channel.recipient
            if not world.is_known(user.id) or not user.dms_open or not world.shares_guild(user.id):
                raise cannot_dm()
            return data
        assert guild is not None
        perms = self._bot_permissions(guild, channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise missing_access()
        if not perms & Permission.SEND_MESSAGES:
            raise missing_permissions()
        if has_files and not perms & Permission.ATTACH_FILES:
            raise missing_permissions()
        if data.get("embeds") and not perms & Permission.EMBED_LINKS:
            others = {**data, "embeds": []}
            if is_empty_message(others, has_files=has_files):
                # Nothing would be left to show once the embeds were dropped.
                raise missing_permissions()
            # Without Embed Links, Discord sends the rest of the message, embeds left out.
            return others
        return data

    async def post_channel_message(self, request: web.Request) -> web.Response:
        """Send a message to a channel or DM, checking what Discord checks."""
        guild, channel = self._channel(request)
        body = body_of(request)
        data = body.object()
        data = self._check_send(guild, channel, data, bool(body.files))
        errors = FormErrors()
        check_message(data, errors)
        if errors:
            raise ApiError.invalid_form(errors)
        if is_empty_message(data, has_files=bool(body.files)):
            raise empty_message()
        message = self.state.create_message(
            channel_id=channel.id,
            guild_id=None if guild is None else guild.id,
            body={**data, "flags": data.get("flags", 0) & ~64},
            files=body.files,
        )
        return json_response(self.state.message_payload(message))

    def _message_in(self, channel: Channel | DMChannel, message_id: int) -> Message:
        """A live message of the channel; 10008 otherwise (ordinary if someone else deleted it)."""
        message = self.state.messages.get(message_id)
        if message is None or message.ephemeral or message.channel_id != channel.id:
            raise unknown_message()
        if message.deleted:
            raise unknown_message(violation=message.deleted_by == self.state.world.bot.id)
        return message

    def _channel_message(self, request: web.Request) -> tuple[Guild | None, Message]:
        guild, channel = self._channel(request)
        try:
            message_id = int(request.match_info["message"])
        except ValueError as exc:
            raise unknown_message() from exc
        return guild, self._message_in(channel, message_id)

    async def get_channel_message(self, request: web.Request) -> web.Response:
        """One message (ephemeral messages are not reachable this way)."""
        _, message = self._channel_message(request)
        return json_response(self.state.message_payload(message))

    async def patch_channel_message(self, request: web.Request) -> web.Response:
        """Edit one of the bot's messages (50005 for anyone else's)."""
        _, message = self._channel_message(request)
        if message.author.id != self.state.world.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        return edit_message(self.state, message, body_of(request), None)

    async def delete_channel_message(self, request: web.Request) -> web.Response:
        """Delete a message: the bot's own freely, anyone else's with Manage Messages."""
        guild, message = self._channel_message(request)
        bot = self.state.world.bot
        if message.author.id != bot.id:
            if guild is None:
                raise ApiError(403, 50003, "Cannot execute action on a DM channel")
            perms = self._bot_permissions(guild, guild.channel(message.channel_id))
            if not perms & Permission.VIEW_CHANNEL:
                raise missing_access()
            if not perms & Permission.MANAGE_MESSAGES:
                raise missing_permissions()
        await self.actions.delete_messages(
            guild, message.channel_id, [message], actor=bot, reason=reason_of(request)
        )
        return web.Response(status=204)

    async def bulk_delete(self, request: web.Request) -> web.Response:
        """Delete 2-100 messages under 14 days old at once (Manage Messages, even for the bot's own)."""
        guild, channel = self._channel(request)
        data = body_of(request).object()
        ids = self._bulk_ids(data.get("messages"))
        if guild is None or isinstance(channel, DMChannel):
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        perms = self._bot_permissions(guild, channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise missing_access()
        if not perms & Permission.MANAGE_MESSAGES:
            raise missing_permissions()
        oldest = datetime.now(UTC) - BULK_DELETE_MAX_AGE
        if any(snowflake_time(i) < oldest for i in ids):
            raise ApiError(
                400, 50034, "You can only bulk delete messages that are under 14 days old."
            )
        # Ids of messages already gone (or never in this channel) are skipped, as Discord does.
        found = [
            m
            for m in (self.state.messages.get(i) for i in ids)
            if m is not None and not m.deleted and not m.ephemeral and m.channel_id == channel.id
        ]
        await self.actions.delete_messages(
            guild, channel.id, found, actor=self.state.world.bot, reason=reason_of(request)
        )
        return web.Response(status=204)

    @staticmethod
    def _bulk_ids(value: object) -> list[int]:
        errors = FormErrors()
        if value is None:
            errors.add(("messages",), "BASE_TYPE_REQUIRED", "This field is required")
        elif not isinstance(value, list):
            errors.add(("messages",), "BASE_TYPE_ARRAY", "Expected an array.")
        elif not BULK_DELETE_MIN <= len(value) <= BULK_DELETE_MAX:
            errors.add(
                ("messages",),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {BULK_DELETE_MIN} and {BULK_DELETE_MAX} in length.",
            )
        if errors:
            raise ApiError.invalid_form(errors)
        assert isinstance(value, list)
        ids: list[int] = []
        for index, item in enumerate(value):
            try:
                ids.append(int(item))
            except (TypeError, ValueError):
                errors.add(
                    ("messages", index), "NUMBER_TYPE_COERCE", f'Value "{item}" is not snowflake.'
                )
        if not errors and len(set(ids)) != len(ids):
            # The OpenAPI file says uniqueItems; Discord's own code for it is not documented.
            errors.add(("messages",), "BASE_TYPE_UNIQUE", "Items must be unique.")
        if errors:
            raise ApiError.invalid_form(errors)
        return ids

    async def get_attachment(self, request: web.Request) -> web.Response:
        """An uploaded file, where its attachment's ``url`` points."""
        try:
            found = self.state.attachment_bytes(int(request.match_info["attachment"]))
        except ValueError:
            found = None
        if found is None or found[0]["filename"] != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        attachment, data = found
        return web.Response(body=data, content_type=attachment["content_type"])

    async def get_member(self, request: web.Request) -> web.Response:
        """A guild member."""
        self._require_bot(request)
        guild = self._guild(request)
        try:
            member = guild.find_member(int(request.match_info["user"]))
        except ValueError:
            member = None
        if member is None:
            raise unknown_member()
        return json_response(member.payload())


def build_app(state: State, gateway: Gateway) -> web.Application:
    """The aiohttp application: gateway at /, API under /api/v10, recorded 404 elsewhere."""
    api = HttpApi(state, gateway)
    app = web.Application(middlewares=[api.middleware], client_max_size=64 * 1024 * 1024)
    app.router.add_get("/", gateway.handle)
    app.router.add_get(RESUME_PATH, gateway.handle)
    app.add_routes(api.routes())
    app.router.add_route("*", "/{tail:.*}", api.unknown, name="unknown")
    return app
