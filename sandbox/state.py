"""Shared emulator state: settings, the world, stores of commands, interactions and messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.commands import CommandRegistry
from sandbox.faults import Faults
from sandbox.interactions import Interaction
from sandbox.messages import Message, Ping, could_ping, mentions_pinged
from sandbox.records import (
    AuditLogEntry,
    CommandPut,
    GatewayConnection,
    GatewayFrame,
    HttpRecord,
    InjectedFault,
    Violation,
)
from sandbox.rules import EPHEMERAL, LOADING, SENDABLE_FLAGS
from sandbox.snowflakes import SnowflakeFactory
from sandbox.world import User, World

JSON = dict[str, Any]


@dataclass
class Settings:
    """Knobs a test may turn; the defaults are Discord's where Discord has one."""

    # The least shard count GET /gateway/bot recommends (more if the guilds need it).
    shard_count: int = 1
    # Guilds one shard may hold: an IDENTIFY whose shard would hold more is closed with 4011.
    max_guilds_per_shard: int = 2500
    # session_start_limit: IDENTIFYs per 24 h, and buckets (shard_id % max_concurrency) that
    # may each IDENTIFY once per `identify_interval` seconds (sooner: op 9 INVALID_SESSION).
    session_start_total: int = 1000
    max_concurrency: int = 1
    identify_interval: float = 5.0
    # Privileged intents enabled for the application (none, as for a new one): asking for
    # another closes the connection with 4014.
    privileged_intents: int = 0
    ack_deadline: float = 3.0
    token_lifetime: float = 15 * 60.0
    heartbeat_interval_ms: int = 41_250
    # Seconds before a heartbeat is acknowledged. Discord's ACK is a network round trip away;
    # a loopback ACK at once can overtake discord.py's keep-alive thread, which records the
    # send only after the event loop has sent it, and the latency then reads ~an interval.
    heartbeat_ack_delay: float = 0.02
    # A connection that sends no heartbeat for interval × this is closed with 4009 (0: never).
    heartbeat_timeout_factor: float = 1.5
    attachment_size_limit: int = 10 * 1024 * 1024
    quiet_period: float = 0.05
    answer_timeout: float = 5.0
    deferred_update_grace: float = 0.5


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class State:
    """Everything the HTTP side, the gateway side and the driver share."""

    world: World
    settings: Settings
    ids: SnowflakeFactory = field(default_factory=SnowflakeFactory)
    base_url: str = ""
    messages: dict[int, Message] = field(default_factory=dict)
    interactions: list[Interaction] = field(default_factory=list)
    requests: list[HttpRecord] = field(default_factory=list)
    frames: list[GatewayFrame] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    unknown_routes: list[HttpRecord] = field(default_factory=list)
    command_puts: list[CommandPut] = field(default_factory=list)
    internal_errors: list[BaseException] = field(default_factory=list)
    connections: list[GatewayConnection] = field(default_factory=list)
    injected_faults: list[InjectedFault] = field(default_factory=list)
    audit_log: list[AuditLogEntry] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    commands: CommandRegistry = field(init=False)
    _changed: asyncio.Event | None = None
    _by_id: dict[int, Interaction] = field(default_factory=dict)
    _by_token: dict[str, Interaction] = field(default_factory=dict)
    _watchers: dict[int, list[Interaction]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.commands = CommandRegistry(self.world.application_id, self.ids)

    # waiting for something to happen

    def notify(self) -> None:
        """Wake everything waiting in `wait_until` (a frame, a request, a connection changed)."""
        if self._changed is not None:
            self._changed.set()
            # A fresh event per change: a waiter that re-checks its condition and waits
            # again can never miss a change made while it was checking.
            self._changed = None

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float) -> None:  # noqa: ASYNC109 - a wait budget, not a cancel scope
        """Return once `condition()` holds, re-checked after every change; TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            while not condition():
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()

    # interactions

    def add_interaction(self, interaction: Interaction) -> None:
        """Track a newly dispatched interaction."""
        self.interactions.append(interaction)
        self._by_id[interaction.id] = interaction
        self._by_token[interaction.token] = interaction
        if interaction.source_message_id is not None:
            self._watch(interaction, interaction.source_message_id)

    def _watch(self, interaction: Interaction, message_id: int) -> None:
        # An index, so a message change wakes its interactions without scanning them all
        # (a scan made long benchmark runs slower and slower).
        watchers = self._watchers.setdefault(message_id, [])
        if interaction not in watchers:
            watchers.append(interaction)

    def shown(self, interaction: Interaction, message_id: int | None) -> None:
        """Note that an interaction now shows a message (or changed without one)."""
        interaction.touch(message_id)
        if message_id is not None:
            self._watch(interaction, message_id)

    def interaction(self, interaction_id: int) -> Interaction | None:
        """An interaction by id."""
        return self._by_id.get(interaction_id)

    def interaction_by_token(self, token: str) -> Interaction | None:
        """An interaction by its token (how webhook routes name it)."""
        return self._by_token.get(token)

    def message_changed(self, message: Message, via: Interaction | None) -> None:
        """Wake every interaction that shows this message (its own, and clicks on it)."""
        if via is not None:
            self.shown(via, message.id)
        for interaction in list(self._watchers.get(message.id, ())):
            if interaction.source_message_id == message.id and interaction.acknowledged:
                interaction.source_updated = True
                self.shown(interaction, message.id)
            elif interaction is not via and message.id in interaction.message_ids:
                interaction.touch()

    # messages

    def resolve_user(self, user_id: int) -> User | None:
        """A world user by id, for filling in message mentions."""
        try:
            return self.world.user(user_id)
        except LookupError:
            return None

    def message_payload(self, message: Message) -> JSON:
        """A message as Discord would return it."""
        return message.payload(self.resolve_user)

    def interaction_message(
        self,
        interaction: Interaction,
        body: JSON,
        files: list[UploadedFile],
        *,
        message_type: int,
        loading: bool = False,
    ) -> Message:
        """A new message answering an interaction, in the channel it came from."""
        return self.create_message(
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            body=body,
            files=files,
            interaction=interaction,
            message_type=message_type,
            loading=loading,
        )

    def create_message(
        self,
        *,
        channel_id: int,
        guild_id: int | None,
        body: JSON,
        files: list[UploadedFile],
        interaction: Interaction | None = None,
        message_type: int = 0,
        loading: bool = False,
    ) -> Message:
        """Store a new message built from a create body."""
        flags = int(body.get("flags") or 0) & SENDABLE_FLAGS
        if loading:
            flags |= LOADING
        message = Message(
            id=self.ids.next(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=self.world.bot,
            type=message_type,
            flags=flags,
            tts=bool(body.get("tts", False)),
        )
        if interaction is not None:
            message.interaction_id = interaction.id
            message.interaction_type = interaction.type
            message.interaction_user = interaction.user
            message.webhook_id = self.world.application_id
            message.application_id = self.world.application_id
            if interaction.type == 2:
                message.command_name = interaction.name
        self._apply(message, body, files, notifies=True)
        self.messages[message.id] = message
        return message

    def edit_message(self, message: Message, body: JSON, files: list[UploadedFile]) -> None:
        """Apply an edit body; the first edit of a deferred placeholder is not an "edit"."""
        was_loading = message.loading
        self._apply(message, body, files, notifies=was_loading)
        if was_loading:
            message.flags &= ~LOADING
        else:
            message.edited_at = datetime.now(UTC)

    def fill_placeholder(self, message: Message, body: JSON, files: list[UploadedFile]) -> bool:
        """A first follow-up after a deferral replaces the placeholder, keeping its visibility.

        Returns True when the body asked for an ephemeral message but the placeholder
        was public, which Discord silently ignores.
        """
        wanted = int(body.get("flags") or 0)
        ignored = bool(wanted & EPHEMERAL) and not message.ephemeral
        keep = message.flags & EPHEMERAL
        self._apply(message, body, files, notifies=True)
        message.flags = (message.flags & ~(EPHEMERAL | LOADING)) | keep
        return ignored

    def _apply(
        self, message: Message, body: JSON, files: list[UploadedFile], *, notifies: bool
    ) -> None:
        if "content" in body:
            message.content = body.get("content") or ""
        if "embeds" in body:
            message.embeds = [{"type": "rich", **e} for e in body.get("embeds") or []]
        if "components" in body:
            message.components = list(body.get("components") or [])
        if "flags" in body and body.get("flags") is not None:
            # Only the presentation flags can change after creation; ephemerality cannot.
            changeable = SENDABLE_FLAGS & ~EPHEMERAL
            message.flags = (message.flags & ~changeable) | (int(body["flags"]) & changeable)
        if "allowed_mentions" in body or "content" in body:
            message.allowed_mentions = body.get("allowed_mentions")
        if "attachments" in body or files:
            keep_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message.attachments if str(a["id"]) in keep_ids]
            message.files = {k: v for k, v in message.files.items() if k in keep_ids}
            message.attachments = kept + [self._attachment(message, f) for f in files]
        if "content" in body:
            message.record_version(notifies=notifies)

    def _attachment(self, message: Message, upload: UploadedFile) -> JSON:
        attachment_id = self.ids.next()
        url = f"{self.base_url}/attachments/{message.channel_id}/{attachment_id}/{upload.filename}"
        message.files[str(attachment_id)] = upload.data
        return {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type,
        }

    def attachment_bytes(self, attachment_id: int) -> tuple[JSON, bytes] | None:
        """An attachment (its JSON and bytes) by id, if a live message holds it."""
        for message in self.messages.values():
            data = message.files.get(str(attachment_id))
            if data is not None and not message.deleted:
                found = next(a for a in message.attachments if a["id"] == str(attachment_id))
                return found, data
        return None

    # checks tests make

    def pings(self) -> list[Ping]:
        """Every message text whose mentions would notify someone (edits never notify)."""
        found: list[Ping] = []
        for message in self.messages.values():
            for version in (v for v in message.versions if v.notifies):
                users, roles, everyone = mentions_pinged(version.content, version.allowed_mentions)
                if users or roles or everyone:
                    found.append(
                        Ping(message.id, version.content, tuple(users), tuple(roles), everyone)
                    )
        return found

    def could_ping(self) -> list[Message]:
        """Messages whose text was sent without allowed_mentions suppressing every ping."""
        return [
            m
            for m in self.messages.values()
            if any(v.notifies and v.content and could_ping(v.allowed_mentions) for v in m.versions)
        ]
