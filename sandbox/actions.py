"""Changes to the world as Discord makes them: the audit-log entry and the gateway events.

Both sides use these: the HTTP routes (after Discord's checks, the bot acting) and the
Emulator's helpers (a test acting as a member in Discord's own menus, or changing the
world). Each change sends the events Discord sends, to the shard owning the guild,
only to a session that IDENTIFYed with the intent the event needs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.gateway import (
    GUILD_MEMBERS,
    GUILD_MESSAGES,
    GUILD_MODERATION,
    GUILDS,
    MESSAGE_CONTENT,
    Gateway,
)
from sandbox.messages import Message
from sandbox.permissions import MEMBER_OVERWRITE, ROLE_OVERWRITE, Overwrite
from sandbox.records import AuditLogEntry
from sandbox.snowflakes import snowflake_at
from sandbox.state import State
from sandbox.world import Ban, Channel, Guild, GuildMember, Role, User, iso

JSON = dict[str, Any]

# Discord's audit-log event types.
AUDIT_ACTIONS = {
    "CHANNEL_UPDATE": 11,
    "CHANNEL_DELETE": 12,
    "CHANNEL_OVERWRITE_CREATE": 13,
    "CHANNEL_OVERWRITE_UPDATE": 14,
    "MEMBER_KICK": 20,
    "MEMBER_BAN_ADD": 22,
    "MEMBER_BAN_REMOVE": 23,
    "MEMBER_UPDATE": 24,
    "MEMBER_ROLE_UPDATE": 25,
    "ROLE_CREATE": 30,
    "ROLE_UPDATE": 31,
    "MESSAGE_DELETE": 72,
    "MESSAGE_BULK_DELETE": 73,
}


class GuildActions:
    """World changes with their audit-log entries and gateway events."""

    def __init__(self, state: State, gateway: Gateway) -> None:
        self.state = state
        self.gateway = gateway

    # records

    def audit(
        self,
        guild: Guild,
        action: str,
        *,
        target_id: int | None,
        actor: User,
        reason: str | None,
        changes: JSON | None = None,
        options: JSON | None = None,
    ) -> AuditLogEntry:
        """Write an audit-log entry."""
        entry = AuditLogEntry(
            guild_id=guild.id,
            action=action,
            action_type=AUDIT_ACTIONS[action],
            target_id=target_id,
            user_id=actor.id,
            reason=reason,
            at=time.time(),
            changes=changes or {},
            options=options or {},
        )
        self.state.audit_log.append(entry)
        self.state.notify()
        return entry

    async def _member_event(self, guild: Guild, event: str, member: GuildMember) -> None:
        # Discord sends the bot's own member updates whatever its intents.
        intent = None if member.id == self.state.world.bot.id else GUILD_MEMBERS
        await self.gateway.dispatch_to_guild(
            guild.id, event, member.payload() | {"guild_id": str(guild.id)}, intent=intent
        )

    async def _member_removed(self, guild: Guild, user: User) -> None:
        await self.gateway.dispatch_to_guild(
            guild.id,
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(guild.id), "user": user.payload()},
            intent=GUILD_MEMBERS,
        )

    # members

    async def timeout(
        self,
        guild: Guild,
        member: GuildMember,
        until: datetime | None,
        *,
        actor: User,
        reason: str | None,
    ) -> None:
        """Set or lift a timeout (``communication_disabled_until``)."""
        before = member.communication_disabled_until
        member.communication_disabled_until = until
        self.audit(
            guild,
            "MEMBER_UPDATE",
            target_id=member.id,
            actor=actor,
            reason=reason,
            changes={
                "communication_disabled_until": {
                    "old": None if before is None else iso(before),
                    "new": None if until is None else iso(until),
                }
            },
        )
        await self._member_event(guild, "GUILD_MEMBER_UPDATE", member)

    async def kick(
        self, guild: Guild, member: GuildMember, *, actor: User, reason: str | None
    ) -> None:
        """Remove a member by a kick."""
        guild.remove_member(member.id)
        self.audit(guild, "MEMBER_KICK", target_id=member.id, actor=actor, reason=reason)
        await self._member_removed(guild, member.user)

    async def leave(self, guild: Guild, member: GuildMember) -> None:
        """A member leaves on their own (no audit-log entry)."""
        guild.remove_member(member.id)
        await self._member_removed(guild, member.user)

    async def join(self, guild: Guild, user: User, role_ids: list[int]) -> GuildMember:
        """A user joins (GUILD_MEMBER_ADD, with GUILD_MEMBERS)."""
        self.state.world.users.setdefault(user.id, user)
        member = guild.add_member(user, role_ids=role_ids)
        await self._member_event(guild, "GUILD_MEMBER_ADD", member)
        return member

    async def set_roles(
        self, guild: Guild, member: GuildMember, role_ids: list[int], *, actor: User
    ) -> None:
        """Replace a member's roles."""
        old = set(member.role_ids)
        member.role_ids = [r for r in role_ids if r != guild.id]
        self.audit(
            guild,
            "MEMBER_ROLE_UPDATE",
            target_id=member.id,
            actor=actor,
            reason=None,
            changes={
                "$add": [str(r) for r in member.role_ids if r not in old],
                "$remove": [str(r) for r in old if r not in member.role_ids],
            },
        )
        await self._member_event(guild, "GUILD_MEMBER_UPDATE", member)

    async def forget_user(self, user: User) -> None:
        """A deleted account: out of every guild (GUILD_MEMBER_REMOVE), unknown from now on."""
        left = [g for g in self.state.world.guilds if g.find_member(user.id) is not None]
        self.state.world.forget_user(user.id)
        for guild in left:
            await self._member_removed(guild, user)

    # bans

    async def ban(
        self,
        guild: Guild,
        user: User,
        *,
        actor: User,
        reason: str | None,
        delete_message_seconds: int = 0,
    ) -> bool:
        """Ban a user (removing them if a member); False when already banned (no change)."""
        if user.id in guild.bans:
            return False
        guild.bans[user.id] = Ban(user=user, reason=reason)
        member = guild.find_member(user.id)
        if member is not None:
            guild.remove_member(user.id)
        deleted = self._delete_recent_messages(guild, user, delete_message_seconds)
        self.audit(
            guild,
            "MEMBER_BAN_ADD",
            target_id=user.id,
            actor=actor,
            reason=reason,
            options={"delete_message_seconds": delete_message_seconds},
        )
        if member is not None:
            await self._member_removed(guild, user)
        await self.gateway.dispatch_to_guild(
            guild.id,
            "GUILD_BAN_ADD",
            {"guild_id": str(guild.id), "user": user.payload()},
            intent=GUILD_MODERATION,
        )
        await self._messages_deleted(guild, deleted)
        return True

    def _delete_recent_messages(self, guild: Guild, user: User, seconds: int) -> list[Message]:
        if seconds <= 0:
            return []
        since = datetime.now(UTC) - timedelta(seconds=seconds)
        gone = [
            m
            for m in self.state.messages.values()
            if m.guild_id == guild.id
            and m.author.id == user.id
            and not m.deleted
            and m.created_at >= since
        ]
        for message in gone:
            message.deleted = True
            message.deleted_by = None
            self.state.message_changed(message, None)
        return gone

    async def _messages_deleted(self, guild: Guild, messages: list[Message]) -> None:
        by_channel: dict[int, list[int]] = {}
        for message in messages:
            by_channel.setdefault(message.channel_id, []).append(message.id)
        for channel_id, ids in by_channel.items():
            await self.messages_deleted(guild, channel_id, ids)

    async def messages_deleted(self, guild: Guild, channel_id: int, ids: list[int]) -> None:
        """MESSAGE_DELETE (one) or MESSAGE_DELETE_BULK (several), with GUILD_MESSAGES."""
        base: JSON = {"channel_id": str(channel_id), "guild_id": str(guild.id)}
        if len(ids) == 1:
            event, data = "MESSAGE_DELETE", base | {"id": str(ids[0])}
        else:
            event, data = "MESSAGE_DELETE_BULK", base | {"ids": [str(i) for i in ids]}
        await self.gateway.dispatch_to_guild(guild.id, event, data, intent=GUILD_MESSAGES)

    async def unban(self, guild: Guild, user: User, *, actor: User, reason: str | None) -> bool:
        """Lift a ban; False when there was none."""
        if guild.bans.pop(user.id, None) is None:
            return False
        self.audit(guild, "MEMBER_BAN_REMOVE", target_id=user.id, actor=actor, reason=reason)
        await self.gateway.dispatch_to_guild(
            guild.id,
            "GUILD_BAN_REMOVE",
            {"guild_id": str(guild.id), "user": user.payload()},
            intent=GUILD_MODERATION,
        )
        return True

    # messages

    async def post(
        self,
        guild: Guild,
        channel: Channel,
        member: GuildMember,
        content: str,
        *,
        at: datetime | None = None,
    ) -> Message:
        """A member's message (MESSAGE_CREATE, with GUILD_MESSAGES; its text only with
        MESSAGE_CONTENT, as Discord does). `at` back-dates it, id included."""
        if at is None:
            message_id = self.state.ids.next()
        else:
            message_id = snowflake_at(at, worker=5)
            while message_id in self.state.messages:
                message_id += 1
        message = Message(
            id=message_id,
            channel_id=channel.id,
            guild_id=guild.id,
            author=member.user,
            created_at=at or datetime.now(UTC),
        )
        message.content = content
        message.record_version(notifies=True)
        self.state.messages[message.id] = message
        self.state.notify()
        session = self.gateway.session_for_guild(guild.id)
        if session is not None and session.intents & GUILD_MESSAGES:
            data = self.state.message_payload(message) | {"member": member.payload(with_user=False)}
            if not session.intents & MESSAGE_CONTENT:
                data.update({"content": "", "embeds": [], "attachments": [], "components": []})
            await self.gateway.dispatch(session, "MESSAGE_CREATE", data)
        return message

    async def delete_messages(
        self,
        guild: Guild | None,
        channel_id: int,
        messages: list[Message],
        *,
        actor: User,
        reason: str | None,
    ) -> None:
        """Delete messages (one: MESSAGE_DELETE; several: MESSAGE_DELETE_BULK).

        The audit log notes a deletion of someone else's message, and every bulk delete.
        """
        for message in messages:
            message.deleted = True
            message.deleted_by = actor.id
            self.state.message_changed(message, None)
        self.state.notify()
        if guild is None or not messages:
            return
        others = [m for m in messages if m.author.id != actor.id]
        if len(messages) > 1:
            self.audit(
                guild,
                "MESSAGE_BULK_DELETE",
                target_id=channel_id,
                actor=actor,
                reason=reason,
                options={"count": str(len(messages))},
            )
        elif others:
            self.audit(
                guild,
                "MESSAGE_DELETE",
                target_id=others[0].author.id,
                actor=actor,
                reason=reason,
                options={"channel_id": str(channel_id), "count": "1"},
            )
        await self.messages_deleted(guild, channel_id, [m.id for m in messages])

    # roles and channels

    async def create_role(self, guild: Guild, role: Role, *, actor: User) -> None:
        """A role was added to the guild (GUILD_ROLE_CREATE, with GUILDS)."""
        self.audit(guild, "ROLE_CREATE", target_id=role.id, actor=actor, reason=None)
        await self.gateway.dispatch_to_guild(
            guild.id,
            "GUILD_ROLE_CREATE",
            {"guild_id": str(guild.id), "role": role.payload()},
            intent=GUILDS,
        )

    async def update_role(self, guild: Guild, role: Role, *, actor: User, changes: JSON) -> None:
        """A role changed (GUILD_ROLE_UPDATE, with GUILDS)."""
        self.audit(
            guild, "ROLE_UPDATE", target_id=role.id, actor=actor, reason=None, changes=changes
        )
        await self.gateway.dispatch_to_guild(
            guild.id,
            "GUILD_ROLE_UPDATE",
            {"guild_id": str(guild.id), "role": role.payload()},
            intent=GUILDS,
        )

    async def set_overwrite(
        self,
        guild: Guild,
        channel: Channel,
        target: Role | GuildMember,
        *,
        allow: int,
        deny: int,
        actor: User,
    ) -> None:
        """Set (or, with allow = deny = 0, remove) a channel overwrite (CHANNEL_UPDATE)."""
        kind = ROLE_OVERWRITE if isinstance(target, Role) else MEMBER_OVERWRITE
        existing = [o for o in channel.overwrites if (o.type, o.id) == (kind, target.id)]
        for overwrite in existing:
            channel.overwrites.remove(overwrite)
        if allow or deny:
            channel.overwrites.append(
                Overwrite(id=target.id, type=kind, allow=int(allow), deny=int(deny))
            )
        self.audit(
            guild,
            "CHANNEL_OVERWRITE_UPDATE" if existing else "CHANNEL_OVERWRITE_CREATE",
            target_id=channel.id,
            actor=actor,
            reason=None,
            changes={"allow": str(allow), "deny": str(deny)},
            options={"id": str(target.id), "type": str(kind)},
        )
        await self.gateway.dispatch_to_guild(
            guild.id, "CHANNEL_UPDATE", channel.payload(guild.id), intent=GUILDS
        )

    async def delete_channel(
        self, guild: Guild, channel: Channel, *, actor: User, reason: str | None
    ) -> None:
        """Delete a channel (CHANNEL_DELETE, with GUILDS); the API answers 10003 for it after."""
        guild.remove_channel(channel.id)
        self.audit(guild, "CHANNEL_DELETE", target_id=channel.id, actor=actor, reason=reason)
        await self.gateway.dispatch_to_guild(
            guild.id, "CHANNEL_DELETE", channel.payload(guild.id), intent=GUILDS
        )
