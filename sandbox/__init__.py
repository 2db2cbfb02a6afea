"""A loopback Discord for tests: gateway v10 and HTTP API v10 on 127.0.0.1, plus a member driver.

An unmodified discord.py bot logs in, syncs and answers interactions against it;
the driver plays members typing slash commands and clicking buttons. This package
knows Discord's protocol, never the bot.

Public API:

- ``Emulator(world=None, *, host="127.0.0.1", port=0, shard_count=1, ack_deadline=3.0,
  token_lifetime=900.0, quiet_period=0.05, answer_timeout=5.0, deferred_update_grace=0.5,
  heartbeat_interval_ms=41250, backlog=4096)``.
  ``async with Emulator() as emu:`` starts the server and points discord.py at it
  (``discord.http.Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``), restoring both on
  exit; or ``await emu.start()`` / ``with emu.patch_discord():`` / ``await emu.stop()``.
  ``emu.token`` is the bot token it accepts; ``emu.api_url``, ``emu.gateway_url``.
  ``await emu.wait_until_ready(sessions=1)`` waits for READY + GUILD_CREATEs;
  ``emu.request_reconnect(shard)`` / ``emu.invalidate_session(shard)`` poke the gateway.
- Driving: ``emu.member("alice", guild="beta")`` gives a ``MemberDriver`` (first guild by
  default). ``await member.run("/register", name="Ann", age=30)`` (``"/post create"`` for
  sub-commands; ``options={...}`` for names that clash; ``in_channel=``, ``timeout=``,
  ``force=``) returns a ``Reply``: ``.content``, ``.embeds``, ``.ephemeral``,
  ``.components``, ``.buttons``, ``.selects``, ``.message``, ``.messages``, ``.followups``,
  ``.deleted``, ``.modal``, ``.text``, ``.interaction``; then ``await reply.click("Next",
  by=emu.member("bob"))``, ``await reply.select(menu, *values)``, ``await
  reply.submit({"Title": "..."})``, ``reply.refresh()``, ``await reply.wait(condition)``.
  ``await member.autocomplete("/cmd", "option", "typed")`` returns ``Choice`` items.
  What the Discord client would refuse raises a ``DriverError`` (``UnknownCommandError``,
  ``OptionError``, ``MissingPermissionsError``, ``ComponentError``) unless ``force=True``;
  no answer raises ``NoAnswerError``.
- Records: ``emu.requests``, ``emu.frames``, ``emu.violations`` (every Discord error answer:
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
from sandbox.interactions import Interaction
from sandbox.messages import Button, Message, Ping, SelectMenu
from sandbox.permissions import Permission
from sandbox.records import CommandPut, GatewayFrame, HttpRecord, Violation
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
    "GatewayFrame",
    "Guild",
    "GuildMember",
    "HttpRecord",
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
