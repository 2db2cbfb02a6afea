"""Logging set-up, with secrets removed from every line before it is written.

The redaction filter sits on the handler, not on a logger: a filter on a logger misses
records that its child loggers emit. It rewrites each record's final text (message, traceback
and stack), so no formatter can put a secret back. What it removes: the bot token,
interaction tokens (they all begin ``aW50ZXJhY3Rpb246``, base64 for ``interaction:``), and
the token segment of ``/webhooks/{id}/{token}`` and ``/interactions/{id}/{token}`` URLs,
which discord.py logs at DEBUG along with whole gateway events.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import IO

import discord

REDACTED = "[redacted]"
_INTERACTION_TOKEN = re.compile(r"aW50ZXJhY3Rpb246[A-Za-z0-9_\-.=]*")
_URL_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)([^/?#\s'\"\\]+)")


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no token survives into the output."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _INTERACTION_TOKEN.sub(REDACTED, text)
        return _URL_TOKEN.sub(rf"\g<1>{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must still be written, and still be redacted
            message = f"{record.msg!r} (with unformattable arguments {record.args!r})"
        if record.exc_info and record.exc_info[0] is not None:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        elif record.exc_text:
            message += "\n" + record.exc_text
        if record.stack_info:
            message += "\n" + record.stack_info
        record.msg = self.redact(message)
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def setup_logging(
    level: int, secrets: Iterable[str | None] = (), *, stream: IO[str] | None = None
) -> logging.Handler:
    """Log to stderr (or ``stream``) through discord.py's formatter, with redaction.

    Returns the handler, so a caller (a test, the sandbox) can remove it again.
    """
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(secrets))
    discord.utils.setup_logging(handler=handler, level=level, root=True)
    # aiosqlite narrates every call at DEBUG; keep its chatter out of the bot's debug log.
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))
    return handler
