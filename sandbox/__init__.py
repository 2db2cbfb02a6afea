"""A loopback Discord for tests: gateway v10 and HTTP API v10 on 127.0.0.1, plus a member driver.

An unmodified discord.py bot logs in, syncs and answers interactions against it;
the driver plays members typing slash commands and clicking buttons. This package
knows Discord's protocol, never the bot.

Public API:

- ``Emulator(world=None, *, host="127.0.0.1", port=0, shard_count=1, ack_deadline=3.0,
  token_lifetime=900.0, quiet_period=0.05, answer_timeout=5.0, deferred_update_grace=0.5,
  heartbeat_interval_ms=41250, heartbeat_timeout_factor=1.5, heartbeat_ack_delay=0.02,
  backlog=4096)``.
  ``async with Emulator() as emu:`` starts the server and points discord.py at it
  (``discord.http.Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``), restoring both on
  exit; or ``await emu.start()`` / ``with emu.patch_discord():`` / ``await emu.stop()``.
  ``emu.token`` is the bot token it accepts; ``emu.api_url``, ``emu.gateway_url``,
  ``emu.resume_gateway_url`` (READY's, the same server under ``/resume/``).
- The gateway: zlib-stream when asked; a guild's events go only to the shard owning it,
  ``(guild_id >> 22) % shard_count`` of the IDENTIFY's ``shard``; ``GET /gateway/bot``
  recommends ``shard_count``. ``await emu.wait_until_ready(sessions=1)`` waits for READY +
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
  default). ``await member.run("/register", name="Ann", age=30)`` (``"/post create"`` for
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
- Records: ``emu.requests``, ``emu.frames``, ``emu.connections`` (``GatewayConnection``:
  path, compress, shard, identified/resumed, zombie, heartbeats, close code and who closed),
  ``emu.injected_faults``, ``emu.violations`` (every Discord error answer:
  50035 with field paths, 50006, 40060, 10062, 10008...), ``emu.unknown_routes``,
  ``emu.internal_errors`` (sandbox bugs), ``emu.command_puts``, ``emu.interactions``
  (``ack_latency``, ``answered_in_time``), ``emu.messages``, ``emu.unanswered()``,
  ``emu.pings()``, ``emu.could_ping()``, ``emu.commands(guild)``.
- The world: ``default_world()`` builds guilds "alpha" (shard 0 of 2) and "beta" (shard 1 of 2)
  with members owner, admin, moderator, alice, bob, carol, dave (alpha) and owner, admin,
  moderator, alice, erin (beta); ``World``, ``Guild``, ``Channel``, ``Role``, ``GuildMember``,
  ``User``; ``Permission`` bits.
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
    CommandPut,
    GatewayConnection,
    GatewayFrame,
    HttpRecord,
    InjectedFault,
    Violation,
)
from sandbox.snowflakes import INTERACTION_TOKEN_PREFIX, shard_for
from sandbox.world import Channel, Guild, GuildMember, Role, User, World, default_world

__all__ = [
    "INTERACTION_TOKEN_PREFIX",
    "Button",
    "Channel",
    "Choice",
    "CommandPut",
    "ComponentError",
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
