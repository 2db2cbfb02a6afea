"""What the emulator saw: HTTP requests, gateway frames, rejected bodies, command syncs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

TO_BOT = "to_bot"
FROM_BOT = "from_bot"


@dataclass(frozen=True)
class HttpRecord:
    """One HTTP request the bot made and how the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    at: float
    files: tuple[str, ...] = ()
    response: Any = None


@dataclass(frozen=True)
class GatewayFrame:
    """One gateway message, decoded; `direction` is TO_BOT or FROM_BOT."""

    direction: str
    shard_id: int | None
    op: int | None
    t: str | None
    s: int | None
    d: Any
    at: float


@dataclass(frozen=True)
class Violation:
    """A request Discord would have refused, with the error Discord would give."""

    method: str
    path: str
    status: int
    code: int
    message: str
    errors: JSON = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    body: Any = None


@dataclass(frozen=True)
class CommandPut:
    """One bulk overwrite of application commands (guild_id None for global)."""

    guild_id: int | None
    names: tuple[str, ...]
    at: float
    body: Any = None
