"""Discord-shaped identifiers: snowflakes, shard routing, bot and interaction tokens."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000

# base64 of "interaction:"; every real interaction token starts with it, which is
# what log-redaction code keys on, so ours must too.
INTERACTION_TOKEN_PREFIX = "aW50ZXJhY3Rpb246"  # noqa: S105 - a public prefix, not a secret


def snowflake_at(moment: datetime, *, worker: int = 1, process: int = 0, increment: int = 0) -> int:
    """Return the snowflake Discord would mint at `moment` (aware datetime)."""
    ms = int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | ((worker & 0x1F) << 17) | ((process & 0x1F) << 12) | (increment & 0xFFF)


def snowflake_time(snowflake: int) -> datetime:
    """Return the creation time encoded in a snowflake."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def shard_for(guild_id: int, shard_count: int) -> int:
    """Return the shard that owns a guild, by Discord's formula."""
    return (guild_id >> 22) % shard_count


class SnowflakeFactory:
    """Mints unique, increasing snowflakes for the current time."""

    def __init__(self, *, worker: int = 2) -> None:
        self._worker = worker
        self._last_ms = 0
        self._increment = 0

    def next(self) -> int:
        """Return a fresh snowflake, strictly greater than every earlier one."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        if ms <= self._last_ms:
            # Same millisecond (or the clock stepped back): keep ids unique and ordered.
            self._increment += 1
            if self._increment > 0xFFF:
                self._last_ms += 1
                self._increment = 0
            ms = self._last_ms
        else:
            self._last_ms = ms
            self._increment = 0
        return (ms << 22) | ((self._worker & 0x1F) << 17) | self._increment


def bot_token(bot_id: int) -> str:
    """Return a token shaped like a real bot token (id.timestamp.hmac)."""
    head = base64.b64encode(str(bot_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(28)}"


def interaction_token(interaction_id: int) -> str:
    """Return a token shaped like Discord's: base64url of ``interaction:<id>:<secret>``.

    URL-safe base64 without padding, because the token travels inside URL paths.
    """
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(96)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
