"""Logging set-up, with secrets removed from every line as it is formatted.

Tokens are found by where they sit, not by what they look like: the value of a ``token`` field
in a payload (gateway events are logged at DEBUG as a Python dict repr, HTTP bodies as JSON
text) and the token segment of ``/webhooks/{id}/{token}`` and ``/interactions/{id}/{token}``
URLs. The bot token and any other secret the caller names are removed wherever they appear;
interaction tokens are also caught anywhere by their usual prefix (``aW50ZXJhY3Rpb246``, base64
for ``interaction:``) as a backstop.

Redaction happens in the formatter, on the finished line (message, traceback and stack), and
never changes the log record: the record is shared by every handler, and another one (a JSON
log, an error tracker) must still get the exception. ``RedactingHandler`` wraps whatever
formatter it is given, so replacing the formatter (the sandbox writes a file in its own
format) cannot turn redaction off.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from collections.abc import Iterable
from typing import IO

import discord

REDACTED = "[redacted]"
_INTERACTION_TOKEN = re.compile(r"aW50ZXJhY3Rpb246[A-Za-z0-9_\-.=]*")
_URL_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)([^/?#\s'\"\\]+)")
# "token": "…" in JSON, 'token': '…' in a dict repr, with quotes escaped when the payload is
# itself quoted inside a string (a repr of JSON text, an exception message).
_TOKEN_FIELD = re.compile(
    r"""(?P<key>(?P<kq>\\*["'])token(?P=kq)\s*:\s*)(?P<vq>\\*["']).*?(?P=vq)"""
)


class RedactingFormatter(logging.Formatter):
    """Formats a record with ``inner`` (a plain formatter by default), then removes secrets."""

    def __init__(
        self, inner: logging.Formatter | None = None, secrets: Iterable[str | None] = ()
    ) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = _TOKEN_FIELD.sub(rf"\g<key>\g<vq>{REDACTED}\g<vq>", text)
        text = _URL_TOKEN.sub(rf"\g<1>{REDACTED}", text)
        return _INTERACTION_TOKEN.sub(REDACTED, text)

    def format(self, record: logging.LogRecord) -> str:
        try:
            text = self.inner.format(record)
        except Exception:
            # A malformed log call (arguments that do not fit the message) is still written,
            # and redacted, rather than going to logging's own unredacted error report.
            fixed = copy.copy(record)
            fixed.msg = f"{record.msg!r} (with unformattable arguments {record.args!r})"
            fixed.args = None
            text = self.inner.format(fixed)
        return self.redact(text)


class RedactingHandler(logging.StreamHandler[IO[str]]):
    """A stream handler whose every formatter, whichever is set, is wrapped in redaction."""

    def __init__(self, stream: IO[str] | None, secrets: Iterable[str | None]) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.secrets = list(secrets)
        self.setFormatter(None)

    def setFormatter(self, fmt: logging.Formatter | None) -> None:  # noqa: N802 - logging's name
        if not isinstance(fmt, RedactingFormatter):
            fmt = RedactingFormatter(fmt, self.secrets)
        super().setFormatter(fmt)


def setup_logging(
    level: int,
    secrets: Iterable[str | None] = (),
    *,
    stream: IO[str] | None = None,
    formatter: logging.Formatter | None = None,
) -> logging.Handler:
    """Log to stderr (or ``stream``) through ``formatter`` (default: discord.py's), redacted.

    Returns the handler, so a caller (a test, the sandbox) can remove it again.
    """
    handler = RedactingHandler(stream, secrets)
    discord.utils.setup_logging(
        handler=handler,
        formatter=formatter if formatter is not None else discord.utils.MISSING,
        level=level,
        root=True,
    )
    # aiosqlite narrates every call at DEBUG; keep its chatter out of the bot's debug log.
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))
    return handler
