"""Messages the bot sent, as members see them, and what their mentions would ping."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.rules import EPHEMERAL, LOADING
from sandbox.world import User, iso

JSON = dict[str, Any]

USER_MENTION_RE = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION_RE = re.compile(r"<@&(\d{15,21})>")
EVERYONE_RE = re.compile(r"@(everyone|here)\b")

# Discord message types the emulator produces.
DEFAULT = 0
CHAT_INPUT_COMMAND = 20
CONTEXT_MENU_COMMAND = 23


@dataclass(frozen=True)
class Button:
    """A button as a member sees it."""

    label: str | None
    custom_id: str | None
    style: int
    disabled: bool
    url: str | None = None
    emoji: JSON | None = None


@dataclass(frozen=True)
class SelectMenu:
    """A select menu as a member sees it."""

    custom_id: str
    type: int
    placeholder: str | None
    options: tuple[JSON, ...]
    min_values: int
    max_values: int
    disabled: bool


def walk_components(components: list[JSON]) -> list[JSON]:
    """Every component, depth first, including those nested in rows, sections, containers."""
    found: list[JSON] = []
    for item in components:
        found.append(item)
        found.extend(walk_components(item.get("components") or []))
        accessory = item.get("accessory")
        if isinstance(accessory, dict):
            found.append(accessory)
        child = item.get("component")
        if isinstance(child, dict):
            found.extend(walk_components([child]))
    return found


@dataclass(frozen=True)
class Ping:
    """Who a message's content would notify."""

    message_id: int
    content: str
    users: tuple[int, ...]
    roles: tuple[int, ...]
    everyone: bool


def mentions_pinged(
    content: str, allowed_mentions: JSON | None
) -> tuple[list[int], list[int], bool]:
    """Users, roles and @everyone/@here that `content` would ping under `allowed_mentions`.

    Without allowed_mentions Discord parses everything, which is why a bot echoing
    user text must always send it.
    """
    users = [int(u) for u in USER_MENTION_RE.findall(content)]
    roles = [int(r) for r in ROLE_MENTION_RE.findall(content)]
    everyone = bool(EVERYONE_RE.search(content))
    if allowed_mentions is None:
        return users, roles, everyone
    parse = allowed_mentions.get("parse") or []
    listed_users = {int(u) for u in allowed_mentions.get("users") or []}
    listed_roles = {int(r) for r in allowed_mentions.get("roles") or []}
    pinged_users = [u for u in users if "users" in parse or u in listed_users]
    pinged_roles = [r for r in roles if "roles" in parse or r in listed_roles]
    return pinged_users, pinged_roles, everyone and "everyone" in parse


def could_ping(allowed_mentions: JSON | None) -> bool:
    """True unless allowed_mentions suppresses every kind of ping, whatever the content."""
    if allowed_mentions is None:
        return True
    return bool(
        allowed_mentions.get("parse")
        or allowed_mentions.get("users")
        or allowed_mentions.get("roles")
    )


@dataclass
class Version:
    """One state of a message's text as the bot sent it.

    `notifies` is True for a new message and for the text that fills a deferred
    placeholder; Discord sends no notification for mentions added by later edits.
    """

    content: str
    allowed_mentions: JSON | None
    at: datetime
    notifies: bool


@dataclass
class Message:
    """A message in a channel: from an interaction response, a follow-up, or a channel send."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[JSON] = field(default_factory=list)
    flags: int = 0
    tts: bool = False
    allowed_mentions: JSON | None = None
    type: int = DEFAULT
    interaction_id: int | None = None
    interaction_type: int | None = None
    interaction_user: User | None = None
    command_name: str | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    edited_at: datetime | None = None
    deleted: bool = False
    # Who deleted it, once deleted: the bot's id, a member's, or None (Discord, e.g. a ban's purge).
    deleted_by: int | None = None
    versions: list[Version] = field(default_factory=list)
    # The uploaded bytes of each attachment, by attachment id.
    files: dict[str, bytes] = field(default_factory=dict)

    def file(self, filename: str) -> bytes:
        """The bytes of the attachment with that filename (the last one, if several)."""
        for attachment in reversed(self.attachments):
            if attachment["filename"] == filename:
                return self.files[str(attachment["id"])]
        names = [a["filename"] for a in self.attachments]
        raise LookupError(f"message {self.id} has no attachment {filename!r} (it has {names})")

    @property
    def ephemeral(self) -> bool:
        """Only the member who triggered the interaction can see it."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Still the deferred "Bot is thinking..." placeholder."""
        return bool(self.flags & LOADING)

    @property
    def buttons(self) -> list[Button]:
        """Every button on the message, in display order."""
        return [
            Button(
                label=c.get("label"),
                custom_id=c.get("custom_id"),
                style=int(c.get("style", 1)),
                disabled=bool(c.get("disabled", False)),
                url=c.get("url"),
                emoji=c.get("emoji"),
            )
            for c in walk_components(self.components)
            if c.get("type") == 2
        ]

    @property
    def selects(self) -> list[SelectMenu]:
        """Every select menu on the message."""
        return [
            SelectMenu(
                custom_id=str(c.get("custom_id")),
                type=int(c["type"]),
                placeholder=c.get("placeholder"),
                options=tuple(c.get("options") or ()),
                min_values=int(c.get("min_values", 1)),
                max_values=int(c.get("max_values", 1)),
                disabled=bool(c.get("disabled", False)),
            )
            for c in walk_components(self.components)
            if c.get("type") in (3, 5, 6, 7, 8)
        ]

    def visible_to(self, user_id: int) -> bool:
        """Whether a member would see this message at all."""
        if self.deleted:
            return False
        if self.ephemeral:
            return self.interaction_user is not None and self.interaction_user.id == user_id
        return True

    def record_version(self, *, notifies: bool) -> None:
        """Remember the text as sent, for ping checks."""
        self.versions.append(
            Version(
                content=self.content,
                allowed_mentions=copy.deepcopy(self.allowed_mentions),
                at=datetime.now(UTC),
                notifies=notifies,
            )
        )

    def snapshot(self) -> Message:
        """A frozen-in-time copy, so a Reply keeps showing what the member saw then."""
        return copy.deepcopy(self)

    def payload(self, resolve_user: Callable[[int], User | None] | None = None) -> JSON:
        """Return the message object Discord sends; `resolve_user` fills in mentioned users."""
        content = self.content
        mentioned_users, mentioned_roles, everyone = mentions_pinged(content, self.allowed_mentions)
        resolve_user = resolve_user or (lambda _: None)
        data: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": content,
            "author": self.author.payload(),
            "attachments": copy.deepcopy(self.attachments),
            "embeds": copy.deepcopy(self.embeds),
            "components": copy.deepcopy(self.components),
            "mentions": [u.payload() for u in (resolve_user(i) for i in mentioned_users) if u],
            "mention_roles": [str(r) for r in mentioned_roles],
            "mention_everyone": everyone,
            "pinned": False,
            "tts": self.tts,
            "timestamp": iso(self.created_at),
            "edited_timestamp": None if self.edited_at is None else iso(self.edited_at),
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_id is not None and self.interaction_user is not None:
            data["interaction_metadata"] = {
                "id": str(self.interaction_id),
                "type": self.interaction_type,
                "user": self.interaction_user.payload(),
                "authorizing_integration_owners": {"0": str(self.guild_id)}
                if self.guild_id
                else {},
            }
            if self.command_name is not None:
                data["interaction_metadata"]["name"] = self.command_name
        return data
