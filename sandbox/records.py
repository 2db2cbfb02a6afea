"""What the emulator saw: requests, gateway frames and connections, rejections, syncs, faults."""

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
    # True when the answer was a fault a test injected (see ``Emulator.rate_limit``).
    injected: bool = False
    # The X-Audit-Log-Reason header, percent-decoded (None when not sent).
    reason: str | None = None

    @property
    def error_code(self) -> int | None:
        """Discord's JSON error code when the answer was an error, else None."""
        if self.status < 400 or not isinstance(self.response, dict):
            return None
        code = self.response.get("code")
        return code if isinstance(code, int) else None


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
    """A request Discord refused that the bot should have avoided, with Discord's error.

    Ordinary answers every bot must handle (10007, 10013, 10026, 50007...) are not
    violations: they are in ``emu.requests`` with their ``error_code``.
    """

    method: str
    path: str
    status: int
    code: int
    message: str
    errors: JSON = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    body: Any = None


@dataclass(frozen=True)
class AuditLogEntry:
    """One action Discord would write to a guild's audit log.

    `action` is Discord's audit-log event name (``"MEMBER_BAN_ADD"``, ``"MEMBER_KICK"``,
    ``"MEMBER_UPDATE"``, ...), `action_type` its number; `user_id` is who acted (the bot,
    or a member acting from Discord's own menus); `reason` the X-Audit-Log-Reason;
    `changes`/`options` what changed (e.g. ``communication_disabled_until``,
    ``delete_message_seconds``).
    """

    guild_id: int
    action: str
    action_type: int
    target_id: int | None
    user_id: int
    reason: str | None
    at: float
    changes: JSON = field(default_factory=dict)
    options: JSON = field(default_factory=dict)


@dataclass(frozen=True)
class CommandPut:
    """One bulk overwrite of application commands (guild_id None for global)."""

    guild_id: int | None
    names: tuple[str, ...]
    at: float
    body: Any = None


@dataclass(frozen=True)
class InjectedFault:
    """A request the emulator failed on purpose because a test asked (not a bot violation).

    `kind` is ``"rate_limit"``, ``"global_rate_limit"`` or ``"server_error"``.
    """

    method: str
    path: str
    status: int
    kind: str
    retry_after: float | None
    at: float
    body: Any = None


@dataclass
class GatewayConnection:
    """One WebSocket the bot opened, and how it ended (filled in as it happens).

    `path` is ``/`` for the default gateway and ``/resume/`` for READY's
    resume_gateway_url; `closed_by` is ``"server"`` or ``"bot"``.
    """

    number: int
    path: str
    compress: str | None
    opened_at: float
    shard_id: int | None = None
    session_id: str | None = None
    identified: bool = False
    resumed: bool = False
    zombie: bool = False
    heartbeats: int = 0
    closed_at: float | None = None
    close_code: int | None = None
    closed_by: str | None = None

    @property
    def open(self) -> bool:
        """Whether the socket is still open."""
        return self.closed_at is None

    @property
    def via_resume_url(self) -> bool:
        """Whether the bot connected to READY's resume_gateway_url."""
        return self.path.startswith("/resume")
