"""The chat's own exceptions: a line it cannot run, and the person asking to leave."""

from __future__ import annotations


class ChatError(Exception):
    """A line the chat cannot run; the message is one sentence for the person typing."""


class ChatQuit(Exception):
    """The person asked to leave."""
