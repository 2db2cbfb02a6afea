"""A terminal chat over the emulator: type slash commands as in Discord's client, see the replies.

This package knows Discord's protocol and the emulator's public API, never the bot. Its parts:

- ``definitions`` and ``parse``: the synced slash commands, and ``parse_command`` turning
  ``/post title:Hello there body:my first post`` into a command path and converted values;
- ``text`` and ``render``: what a member sees, mentions and timestamps resolved, drawn with
  ``rich``;
- ``session`` (with ``completion`` and ``verbs``): ``Chat``, the state of one session, its
  ``:`` verbs and Tab completion;
- ``loops`` (with ``loop_thread``): ``run_script`` and ``run_interactive``, blocking on I/O in
  the calling thread while the emulator runs on a ``LoopThread``.

The names below are the package's public API, importable as ``from sandbox.chat import ...``.
"""

from __future__ import annotations

from sandbox.chat.completion import Suggestion
from sandbox.chat.definitions import chat_commands, describe_commands, find_command, usage
from sandbox.chat.errors import ChatError, ChatQuit
from sandbox.chat.loop_thread import LoopThread
from sandbox.chat.loops import run_interactive, run_script, script_lines
from sandbox.chat.parse import Directory, ParsedCommand, convert, parse_command, split_options
from sandbox.chat.render import LeftBar, render_buttons, render_embed, render_message, render_reply
from sandbox.chat.session import Chat
from sandbox.chat.text import Names, discord_text, relative_time, timestamp_text
from sandbox.chat.verbs import VERBS

__all__ = [
    "VERBS",
    "Chat",
    "ChatError",
    "ChatQuit",
    "Directory",
    "LeftBar",
    "LoopThread",
    "Names",
    "ParsedCommand",
    "Suggestion",
    "chat_commands",
    "convert",
    "describe_commands",
    "discord_text",
    "find_command",
    "parse_command",
    "relative_time",
    "render_buttons",
    "render_embed",
    "render_message",
    "render_reply",
    "run_interactive",
    "run_script",
    "script_lines",
    "split_options",
    "timestamp_text",
    "usage",
]
