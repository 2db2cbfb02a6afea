"""A loopback Discord for tests: gateway v10 and HTTP API v10 on 127.0.0.1, plus a member driver.

An unmodified discord.py bot logs in, syncs and answers interactions against it;
the driver plays members typing slash commands and clicking buttons. This package
knows Discord's protocol, never the bot.

Public API:

- ``Emulator(world=None, *, host="127.0.0.1", port=0, shard_count=1, ack_deadline=3.0,
  token_lifetime=900.0, quiet_period=0.05, answer_timeout=5.0, deferred_update_grace=0.5,
  heartbeat_interval_ms=41250, heartbeat_timeout_factor=1.5, heartbeat_ack_delay=0.02,
  backlog=4096, max_guilds_per_shard=2500, max_concurrency=1, identify_interval=5.0,
  session_start_total=1000, privileged_intents=0)``.
  ``async with Emulator() as emu:`` starts the server and points discord.py at it
  (``discord.http.Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``), restoring both on
  exit; or ``await emu.start()`` / ``with emu.patch_discord():`` / ``await emu.stop()``.
  ``emu.token`` is the bot token it accepts; ``emu.api_url``, ``emu.gateway_url``,
  ``emu.resume_gateway_url`` (READY's, the same server under ``/resume/``).
- The gateway: zlib-stream when asked; a guild's events go only to the shard owning it,
  ``(guild_id >> 22) % shard_count`` of the IDENTIFY's ``shard``. ``GET /gateway/bot``
  recommends at least ``shard_count`` shards, and the fewest of which none holds more than
  ``max_guilds_per_shard`` guilds (2,500, Discord's; ``emu.gateway.recommended_shards()``,
  ``emu.gateway.shard_loads(count)``), with ``session_start_limit`` (``total``, ``remaining``:
  IDENTIFYs left in the 24 h window, counted but not enforced; ``reset_after`` in ms;
  ``max_concurrency``). An IDENTIFY is refused, as Discord refuses it: close 4014 for a
  privileged intent (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT) not in
  ``privileged_intents`` (none, as for a new application; e.g. ``privileged_intents=
  sandbox.gateway.GUILD_MEMBERS``); close 4011 when its shard would hold more than
  ``max_guilds_per_shard`` guilds; op 9 (``d: false``) when it comes sooner than
  ``identify_interval`` seconds (5) after the last IDENTIFY of its bucket (``shard_id %
  max_concurrency``), counted in ``emu.gateway.refused_identifies`` (discord.py's own 5 s
  pause between IDENTIFYs keeps within it; a bot that skips it must set
  ``identify_interval=0``, as tests/sandbox's conftest does). ``await
  emu.wait_until_ready(sessions=1)`` waits for READY +
  GUILD_CREATEs (sessions count cumulatively); ``await emu.wait_until_resumed(shard_id=0,
  resumes=1)`` for RESUMED; ``await emu.wait_until(condition, timeout=10)`` re-checks a
  condition on every recorded frame, request or connection. ``await
  emu.request_reconnect(shard)`` sends op 7 (discord.py resumes at the resume URL; RESUME
  replays missed dispatches with their seq, then RESUMED); ``await
  emu.invalidate_session(shard, resumable=False)`` sends op 9 (non-resumable: the bot
  IDENTIFYs again, after discord.py's 5 s identify pause for an AutoShardedClient); a
  RESUME of an unknown, invalidated or timed-out session (or from a seq the replay
  buffer cannot bridge) gets op 9 false. ``await
  emu.request_heartbeat(shard)`` sends op 1. A heartbeat is acknowledged (op 11)
  ``heartbeat_ack_delay`` seconds after it arrives, as across a network: an instant loopback
  ACK can overtake discord.py's keep-alive thread, whose latency then reads a whole interval. A connection that sends no heartbeat for
  ``heartbeat_interval_ms`` × ``heartbeat_timeout_factor`` (``emu.heartbeat_timeout()``; 0
  disables) is closed with 4009 and its session ends. ``emu.stall_heartbeat_acks(shard)``
  makes the shard's current connection a zombie (no ACK, no frame reaches it; dispatches
  stay buffered) so discord.py's own zombie detection (its ``heartbeat_timeout``) closes it
  with 4000 and resumes; it returns the stalled ``GatewayConnection`` records.
- Faults on request (deliberate, so never violations): ``emu.rate_limit(route, times=1,
  retry_after=0.05, is_global=False, via=True)`` answers the next matching requests with 429,
  JSON ``retry_after`` and ``Via`` (``is_global``: ``"global": true`` and
  ``X-RateLimit-Global``; ``via=False``: what discord.py takes for a Cloudflare ban);
  ``emu.fail_requests(route, status=503, times=1)`` answers with a 5xx (502 as Cloudflare
  HTML). ``route`` is ``"METHOD /path"`` under /api/v10, each ``{placeholder}`` one segment,
  e.g. ``"POST /interactions/{id}/{token}/callback"`` or ``"PATCH
  /webhooks/{app}/{token}/messages/@original"``. Both return a ``FaultRule`` (``.hits``,
  ``.remaining``); ``emu.clear_faults()``; ``emu.injected_faults`` lists every
  ``InjectedFault``, and their ``HttpRecord`` has ``injected=True``.
- Driving: ``emu.member("alice", guild="beta")`` gives a ``MemberDriver`` (first guild by
  default; once that member has left, been kicked or banned, running anything raises
  ``DriverError``). ``await member.run("/register", name="Ann", age=30)`` (``"/post create"`` for
  sub-commands; ``options={...}`` for names that clash; ``in_channel=``, ``timeout=``,
  ``force=``) returns a ``Reply``: ``.content``, ``.embeds``, ``.ephemeral``,
  ``.components``, ``.buttons``, ``.selects``, ``.message``, ``.messages``, ``.followups``,
  ``.deleted``, ``.modal``, ``.text``, ``.interaction``; then ``await reply.click("Next",
  by=emu.member("bob"))``, ``await reply.select(menu, *values)``, ``await
  reply.submit({"Title": "..."})``, ``reply.refresh()``, ``await reply.wait(condition)``.
  ``await member.autocomplete("/cmd", "option", "typed")`` returns ``Choice`` items.
  ``await member.run_raw("/cmd", [{"name": "age", "type": 4, "value": "30"}])`` and
  ``member.autocomplete_raw("/cmd", [...])`` play a forged client: the option list goes out
  exactly as given, wrong types included (ids of known users, roles and channels are
  resolved, as Discord does); only the command itself must be synced and allowed.
  What the Discord client would refuse raises a ``DriverError`` (``UnknownCommandError``,
  ``OptionError``, ``MissingPermissionsError``, ``ComponentError``) unless ``force=True``;
  no answer raises ``NoAnswerError``.
- Moderation routes, checked as Discord checks them (body, then target, then the bot's
  guild-wide permission, then the hierarchy): ``PATCH /guilds/{g}/members/{u}`` with
  ``communication_disabled_until`` (ISO8601 or null; 50013 without Moderate Members, for the
  owner, an administrator or a target at or above the bot's top role; 50035 past 28 days;
  10007 not a member; other fields answer 400 "not emulated"); ``DELETE
  /guilds/{g}/members/{u}`` (kick: Kick Members, same hierarchy); ``PUT /guilds/{g}/bans/{u}``
  (``delete_message_seconds`` 0-604800 or ``delete_message_days`` 0-7, in the body or the
  query as discord.py sends it, else 50035; Ban Members; hierarchy only for a member; 10013
  for a user Discord does not know; a second ban is a 204 that changes nothing; the member
  is removed), ``DELETE /guilds/{g}/bans/{u}`` (10026 when not banned), ``GET
  /guilds/{g}/bans/{u}`` and ``GET /guilds/{g}/bans`` (by ascending user id; ``limit``
  1-1000, default 1000; ``after``; ``before`` gives the ``limit`` bans just below it).
  The hierarchy: the owner outranks everyone and nobody outranks the owner; otherwise the
  top role (highest position; at equal positions the LOWER id ranks higher, as discord.py's
  ``Role.__lt__``) must be strictly higher; ``guild.rank(role)``, ``guild.top_role(member)``,
  ``guild.outranks(actor, target)``. ``X-Audit-Log-Reason`` is percent-decoded (UTF-8) and
  refused past 512 characters (50035, path ``audit_log_reason``) on every route; it is each
  ``HttpRecord.reason``, a ban's ``reason``, and each ``AuditLogEntry.reason``.
- Gateway events follow the IDENTIFY's intents: GUILD_BAN_ADD / GUILD_BAN_REMOVE need
  GUILD_MODERATION (bit 2, discord.py's ``Intents.moderation``); GUILD_MEMBER_UPDATE / _ADD /
  _REMOVE need the privileged GUILD_MEMBERS (bit 1), except the bot's own member updates,
  sent whatever the intents; CHANNEL_DELETE / CHANNEL_UPDATE / GUILD_ROLE_CREATE / _UPDATE
  need GUILDS (bit 0). ``emu.gateway.dispatch_to_guild(guild_id, event, data, intent=bit)``.
- DMs and channel messages: ``POST /users/@me/channels`` (``recipient_id``) opens or returns
  the bot's DM channel (50033 for a user Discord does not know); sending there answers 50007
  when the user's ``dms_open`` is False (``emu.user("alice").dms_open = False``) or they share
  no guild with the bot; ``emu.dms(user)`` lists what the bot sent them. ``POST
  /channels/{c}/messages`` checks the bot's permissions in the channel (the @everyone role,
  its roles, ADMINISTRATOR = all, then overwrites: @everyone, roles, member): 50001 without
  View Channel, 50013 without Send Messages, without Attach Files for a file, or without
  Embed Links for an embed-only message (with text, the embeds are dropped, as Discord
  does); 10003 for a deleted or unknown channel. ``GET /users/{u}`` (10013 when unknown).
- Messages: ``DELETE /channels/{c}/messages/{m}`` (the bot's own freely; anyone else's needs
  Manage Messages, else 50013; 10008 for a message gone: a violation when the bot deleted it
  itself or it never existed, an ordinary answer when someone else did); ``PATCH`` of
  another's message is 50005; ``POST /channels/{c}/messages/bulk-delete`` (``messages``: 2-100
  unique ids, else 50035; Manage Messages even for the bot's own; any id older than 14 days:
  400 50034, Discord's code for it; ids already gone are skipped). MESSAGE_DELETE /
  MESSAGE_DELETE_BULK need GUILD_MESSAGES; the audit log notes a deletion of someone else's
  message (MESSAGE_DELETE) and every bulk delete (MESSAGE_BULK_DELETE). ``await
  emu.post_message(member, content, channel=None, guild=None, at=None)`` posts a member's
  message (MESSAGE_CREATE with GUILD_MESSAGES, its text blanked without MESSAGE_CONTENT; `at`
  back-dates it, snowflake included); ``await emu.delete_message(message, by=None)`` deletes
  one as its author or a member with Manage Messages.
- Files: multipart requests (``payload_json`` + ``files[n]``) on every message route,
  interaction responses and follow-ups included; more than
  ``emu.settings.attachment_size_limit`` (10 MiB, a guild without boosts) of files in one request is refused with 413 40005
  "Request entity too large" (a violation). ``message.file(filename)`` gives an attachment's
  bytes (``reply.message.file("export.json")``); its ``url`` serves them
  (``GET /attachments/{channel}/{id}/{filename}``).
- Changing the world, with the events Discord would send (a test acting as Discord, or as a
  member in Discord's own menus; the member named by ``by=``, the owner by default, must have
  the permission and outrank the target, else ``MissingPermissionsError``): ``await
  emu.ban(user, guild=None, by=, reason=, delete_message_seconds=)`` (False if already
  banned), ``await emu.unban(...)``, ``await emu.kick(member, ...)``, ``await
  emu.timeout(member, until, ...)``, ``await emu.delete_channel(channel, ..., reason=)``;
  ``await emu.leave(member, guild)`` (left on their own; still a known user), ``await
  emu.join(user, guild, roles=())``, ``emu.add_user(username, global_name=, dms_open=)`` (a
  Discord account in no guild), ``await emu.forget_user(user)`` (a deleted account: out of
  every guild, 10013 from then on); ``await emu.add_role(name, guild, permissions=,
  position=, role_id=)``, ``await emu.edit_role(role, guild, permissions=, position=,
  name=)`` (equal positions allowed, to test the tie-break), ``await emu.set_roles(member,
  roles, guild)``, ``await emu.set_overwrite(channel, role_or_member, guild, allow=,
  deny=)`` (0/0 removes it). ``emu.user(ref)`` finds any known user.
- Moderation records: ``emu.audit_log(guild=None)`` (``AuditLogEntry``: ``action`` as
  Discord names it, ``"MEMBER_BAN_ADD"``, ``"MEMBER_BAN_REMOVE"``, ``"MEMBER_KICK"``,
  ``"MEMBER_UPDATE"``, ``"MEMBER_ROLE_UPDATE"``, ``"CHANNEL_DELETE"``..., ``action_type``,
  ``target_id``, ``user_id`` (who acted: the bot or a member), ``reason``, ``changes``,
  ``options``); ``emu.bans(guild=None)`` (``Ban``: ``user``, ``reason``, ``created_at``).
- Records: ``emu.requests``, ``emu.frames``, ``emu.connections`` (``GatewayConnection``:
  path, compress, shard, identified/resumed, zombie, heartbeats, close code and who closed),
  ``emu.injected_faults``, ``emu.violations`` (every answer the bot should have avoided:
  50035 with field paths, 50006, 40060, 10062, 10008, 50001, 50013, 10003 for an id that
  never was a channel...; the answers every bot must handle are NOT violations, only
  requests, with ``HttpRecord.error_code``: 10007 Unknown Member, 10013 Unknown User, 10026
  Unknown Ban, 50007 closed DMs, 50033, 10003 for a channel someone deleted), ``emu.unknown_routes``,
  ``emu.internal_errors`` (sandbox bugs), ``emu.command_puts``, ``emu.interactions``
  (``ack_latency``, ``answered_in_time``), ``emu.messages``, ``emu.unanswered()``,
  ``emu.pings()``, ``emu.could_ping()``, ``emu.commands(guild)``.
- Standalone: ``python -m sandbox.server --port 0 --guilds 1000 --members 20
  --max-guilds-per-shard 2500 --max-concurrency 1 --identify-interval 5 --privileged-intents
  members --rate-limit "ROUTE|times=3|retry_after=0.5|global" --fail
  "ROUTE|status=503|times=2"`` (faults repeatable) prints api, gateway, token, guilds and the
  recommended shard count.
- The world: ``default_world(token=None, guilds=2, members_per_guild=5)`` builds guilds "alpha" (shard 0 of 2) and "beta" (shard 1 of 2)
  with members owner, admin, moderator, alice, bob, carol, dave (alpha) and owner, admin,
  moderator, alice, erin (beta); ``World``, ``Guild``, ``Channel``, ``Role``, ``GuildMember``,
  ``User`` (``dms_open``), ``Ban``, ``DMChannel``; ``Permission`` bits. Roles: @everyone (0),
  Moderator (1: kick, ban, moderate, manage messages), Bulletin (2, the bot's: those too),
  Admin (3: ADMINISTRATOR); the owner has no role. With ``guilds`` past 2, "guild3",
  "guild4"... one millisecond apart (spread evenly over any shard count), each with 5 roles
  (those and Member), 3 channels (#general, #mod-log, #announcements) and
  ``members_per_guild`` members (owner, admin, moderator, member1...) besides the bot;
  ``guilds=1`` is alpha alone.
"""

from sandbox.driver import Choice, MemberDriver, Modal, ModalField, Reply
from sandbox.emulator import Emulator, point_discord_at
from sandbox.errors import (
    ComponentError,
    DriverError,
    MissingPermissionsError,
    NoAnswerError,
    NotConnectedError,
    OptionError,
    SandboxError,
    UnknownCommandError,
)
from sandbox.faults import FaultRule
from sandbox.interactions import Interaction
from sandbox.messages import Button, Message, Ping, SelectMenu
from sandbox.permissions import Permission
from sandbox.records import (
    AuditLogEntry,
    CommandPut,
    GatewayConnection,
    GatewayFrame,
    HttpRecord,
    InjectedFault,
    Violation,
)
from sandbox.snowflakes import INTERACTION_TOKEN_PREFIX, shard_for
from sandbox.world import (
    Ban,
    Channel,
    DMChannel,
    Guild,
    GuildMember,
    Role,
    User,
    World,
    default_world,
)

__all__ = [
    "INTERACTION_TOKEN_PREFIX",
    "AuditLogEntry",
    "Ban",
    "Button",
    "Channel",
    "Choice",
    "CommandPut",
    "ComponentError",
    "DMChannel",
    "DriverError",
    "Emulator",
    "FaultRule",
    "GatewayConnection",
    "GatewayFrame",
    "Guild",
    "GuildMember",
    "HttpRecord",
    "InjectedFault",
    "Interaction",
    "MemberDriver",
    "Message",
    "MissingPermissionsError",
    "Modal",
    "ModalField",
    "NoAnswerError",
    "NotConnectedError",
    "OptionError",
    "Permission",
    "Ping",
    "Reply",
    "Role",
    "SandboxError",
    "SelectMenu",
    "UnknownCommandError",
    "User",
    "Violation",
    "World",
    "default_world",
    "point_discord_at",
    "shard_for",
]
