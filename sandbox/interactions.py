"""Server-side state of each interaction: acknowledgement, deadline, messages it produced."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.world import User

JSON = dict[str, Any]

APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Interaction callback types.
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

# Which callbacks Discord accepts for which interaction type.
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL}
    ),
    AUTOCOMPLETE: frozenset({AUTOCOMPLETE_RESULT}),
    MODAL_SUBMIT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
    ),
}


@dataclass
class Interaction:
    """One interaction the driver dispatched and everything the bot did with it."""

    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    user: User
    payload: JSON
    name: str
    ack_deadline: float
    token_lifetime: float
    source_message_id: int | None = None
    dispatched_at: float = field(default_factory=time.monotonic)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    acked_at: float | None = None
    response_type: int | None = None
    original_message_id: int | None = None
    message_ids: list[int] = field(default_factory=list)
    followup_ids: list[int] = field(default_factory=list)
    modal: JSON | None = None
    choices: list[JSON] | None = None
    late_callbacks: int = 0
    ephemeral_followup_ignored: bool = False
    source_updated: bool = False
    last_change: float = field(default_factory=time.monotonic)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def acknowledged(self) -> bool:
        """Whether an initial response was accepted."""
        return self.acked_at is not None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from dispatch to the accepted initial response (None if never)."""
        return None if self.acked_at is None else self.acked_at - self.dispatched_at

    @property
    def answered_in_time(self) -> bool:
        """Acknowledged within the deadline Discord enforces."""
        latency = self.ack_latency
        return latency is not None and latency <= self.ack_deadline

    def deadline_passed(self, now: float | None = None) -> bool:
        """Too late for an initial response."""
        return (now or time.monotonic()) - self.dispatched_at > self.ack_deadline

    def token_expired(self, now: float | None = None) -> bool:
        """Too late for follow-ups and edits."""
        return (now or time.monotonic()) - self.dispatched_at > self.token_lifetime

    def touch(self, message_id: int | None = None) -> None:
        """Note a visible change, waking whoever waits on this interaction."""
        if message_id is not None and message_id not in self.message_ids:
            self.message_ids.append(message_id)
        self.last_change = time.monotonic()
        self.changed.set()
