"""The World: guilds, channels, roles, members and the bot, plus their Discord payloads.

Everything here is plain data; the gateway and HTTP layers turn it into the JSON
Discord would send. `default_world()` builds the two-guild world tests start from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.permissions import (
    ALL_PERMISSIONS,
    DEFAULT_EVERYONE,
    ROLE_OVERWRITE,
    TIMEOUT_ALLOWED,
    Overwrite,
    Permission,
    apply_overwrites,
    base_permissions,
)
from sandbox.snowflakes import bot_token, snowflake_at

JSON = dict[str, Any]

GUILD_TEXT = 0
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5
GUILD_FORUM = 15


def iso(moment: datetime) -> str:
    """Format a time the way Discord does in payloads."""
    return moment.astimezone(UTC).isoformat()


@dataclass
class User:
    """A Discord account (a person or the bot)."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    @property
    def mention(self) -> str:
        """The mention markup for this user."""
        return f"<@{self.id}>"

    def payload(self) -> JSON:
        """Return the user object Discord sends."""
        data: JSON = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    """A guild role; the @everyone role's id equals its guild's id."""

    id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        """The mention markup for this role."""
        return f"<@&{self.id}>"

    def payload(self) -> JSON:
        """Return the role object Discord sends."""
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.bot_id is not None,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Channel:
    """A guild channel (text by default)."""

    id: int
    name: str
    type: int = GUILD_TEXT
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    nsfw: bool = False
    overwrites: list[Overwrite] = field(default_factory=list)

    @property
    def mention(self) -> str:
        """The mention markup for this channel."""
        return f"<#{self.id}>"

    def payload(self, guild_id: int) -> JSON:
        """Return the channel object Discord sends in GUILD_CREATE."""
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites],
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if self.type in (GUILD_TEXT, GUILD_ANNOUNCEMENT, GUILD_FORUM):
            data.update({"topic": self.topic, "last_message_id": None, "rate_limit_per_user": 0})
        if self.type == GUILD_VOICE:
            data.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        return data


@dataclass
class GuildMember:
    """A user's membership of one guild."""

    user: User
    role_ids: list[int]
    joined_at: datetime
    nick: str | None = None
    communication_disabled_until: datetime | None = None

    @property
    def key(self) -> str:
        """The name tests use for this member (the username)."""
        return self.user.username

    @property
    def id(self) -> int:
        """The member's user id."""
        return self.user.id

    def timed_out(self, now: datetime | None = None) -> bool:
        """True while a timeout is in force."""
        until = self.communication_disabled_until
        return until is not None and until > (now or datetime.now(UTC))

    def payload(self, *, with_user: bool = True) -> JSON:
        """Return the guild member object Discord sends."""
        until = self.communication_disabled_until
        data: JSON = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.role_ids],
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None if until is None else iso(until),
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass
class Guild:
    """A guild with its roles, channels and members."""

    key: str
    id: int
    name: str
    owner_id: int
    roles: list[Role]
    channels: list[Channel]
    members: list[GuildMember]
    locale: str = "en-US"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def everyone(self) -> Role:
        """The @everyone role."""
        return self.role(self.id)

    @property
    def default_channel(self) -> Channel:
        """The first text channel: where the driver types unless told otherwise."""
        for channel in self.channels:
            if channel.type == GUILD_TEXT:
                return channel
        raise LookupError(f"guild {self.key!r} has no text channel")

    def role(self, ref: str | int) -> Role:
        """Find a role by name or id."""
        for role in self.roles:
            if ref in (role.id, role.name):
                return role
        raise LookupError(f"no role {ref!r} in guild {self.key!r}")

    def channel(self, ref: str | int) -> Channel:
        """Find a channel by name (with or without '#') or id."""
        name = ref.removeprefix("#") if isinstance(ref, str) else ref
        for channel in self.channels:
            if name in (channel.id, channel.name):
                return channel
        raise LookupError(f"no channel {ref!r} in guild {self.key!r}")

    def find_member(self, ref: str | int) -> GuildMember | None:
        """Find a member by username or id, or None."""
        for member in self.members:
            if ref in (member.user.id, member.user.username):
                return member
        return None

    def member(self, ref: str | int) -> GuildMember:
        """Find a member by username or id."""
        found = self.find_member(ref)
        if found is None:
            names = ", ".join(m.key for m in self.members)
            raise LookupError(f"no member {ref!r} in guild {self.key!r} (members: {names})")
        return found

    def guild_permissions(self, member: GuildMember) -> int:
        """The member's guild-wide permissions (what default_member_permissions is checked on)."""
        perms = base_permissions(
            is_owner=member.id == self.owner_id,
            everyone=self.everyone.permissions,
            role_permissions=(self.role(r).permissions for r in member.role_ids if r != self.id),
        )
        if perms != ALL_PERMISSIONS and member.timed_out():
            perms &= TIMEOUT_ALLOWED
        return perms

    def permissions_in(self, member: GuildMember, channel: Channel) -> int:
        """The member's permissions in a channel, overwrites applied."""
        base = self.guild_permissions(member)
        if base == ALL_PERMISSIONS:
            return base
        perms = apply_overwrites(
            base,
            guild_id=self.id,
            member_id=member.id,
            role_ids=member.role_ids,
            overwrites=channel.overwrites,
        )
        if member.timed_out():
            perms &= TIMEOUT_ALLOWED
        return perms

    def top_role(self, member: GuildMember) -> Role:
        """The member's highest role (@everyone when they have none)."""
        roles = [self.role(r) for r in member.role_ids if r != self.id]
        return max(roles, key=lambda r: (r.position, r.id), default=self.everyone)

    def payload(self, *, joined_at: datetime) -> JSON:
        """Return the GUILD_CREATE payload."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.locale,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [r.payload() for r in self.roles],
            "application_id": None,
            "system_channel_id": str(self.default_channel.id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "joined_at": iso(joined_at),
            "large": False,
            "lazy": True,
            "unavailable": False,
            "member_count": len(self.members),
            "members": [m.payload() for m in self.members],
            "channels": [c.payload(self.id) for c in self.channels],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass
class World:
    """Everything the emulator knows: the application, its bot user and token, the guilds."""

    bot: User
    token: str
    guilds: list[Guild]
    application_name: str = "Bulletin"

    @property
    def application_id(self) -> int:
        """Modern applications share their id with their bot user."""
        return self.bot.id

    def guild(self, ref: str | int) -> Guild:
        """Find a guild by key, name or id."""
        for guild in self.guilds:
            if ref in (guild.key, guild.name, guild.id):
                return guild
        raise LookupError(f"no guild {ref!r}; guilds: {[g.key for g in self.guilds]}")

    def user(self, ref: str | int) -> User:
        """Find a user (from any guild) by username or id."""
        if ref in (self.bot.id, self.bot.username):
            return self.bot
        for guild in self.guilds:
            found = guild.find_member(ref)
            if found is not None:
                return found.user
        raise LookupError(f"no user {ref!r} in any guild")

    def bot_member(self, guild: Guild) -> GuildMember:
        """The bot's membership of a guild."""
        return guild.member(self.bot.id)


def _at(year: int, month: int, day: int, ms: int = 0) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC) + timedelta(milliseconds=ms)


MODERATOR_PERMISSIONS = int(
    Permission.KICK_MEMBERS
    | Permission.BAN_MEMBERS
    | Permission.MODERATE_MEMBERS
    | Permission.MANAGE_MESSAGES
    | Permission.MANAGE_NICKNAMES
    | Permission.VIEW_AUDIT_LOG
)

BOT_PERMISSIONS = int(
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.SEND_MESSAGES_IN_THREADS
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.MANAGE_MESSAGES
    | Permission.KICK_MEMBERS
    | Permission.BAN_MEMBERS
    | Permission.MODERATE_MEMBERS
    | Permission.MANAGE_NICKNAMES
)

# username -> (display name, user id); the same person has the same id in every guild.
_PEOPLE: dict[str, tuple[str, int]] = {
    "owner": ("Olivia Owner", snowflake_at(_at(2017, 5, 1))),
    "admin": ("Adam Admin", snowflake_at(_at(2017, 6, 2))),
    "moderator": ("Mona Moderator", snowflake_at(_at(2018, 1, 3))),
    "alice": ("Alice", snowflake_at(_at(2018, 7, 4))),
    "bob": ("Bob", snowflake_at(_at(2019, 2, 5))),
    "carol": ("Carol", snowflake_at(_at(2020, 3, 6))),
    "dave": ("Dave", snowflake_at(_at(2021, 8, 7))),
    "erin": ("Erin", snowflake_at(_at(2022, 9, 8))),
}

BOT_USER_ID = snowflake_at(_at(2024, 1, 15))


def _build_guild(
    *,
    key: str,
    name: str,
    guild_id: int,
    bot: User,
    users: dict[str, User],
    member_roles: dict[str, list[str]],
    created: datetime,
) -> Guild:
    def next_id(step: int) -> int:
        return snowflake_at(created + timedelta(minutes=step))

    roles = [
        Role(id=guild_id, name="@everyone", permissions=DEFAULT_EVERYONE, position=0),
        Role(
            id=next_id(1),
            name="Moderator",
            permissions=MODERATOR_PERMISSIONS,
            position=1,
            color=0x3498DB,
            hoist=True,
        ),
        Role(
            id=next_id(2), name="Bulletin", permissions=BOT_PERMISSIONS, position=2, bot_id=bot.id
        ),
        Role(
            id=next_id(3),
            name="Admin",
            permissions=int(Permission.ADMINISTRATOR),
            position=3,
            color=0xE74C3C,
            hoist=True,
        ),
    ]
    by_name = {r.name: r for r in roles}
    general = Channel(id=next_id(10), name="general", position=0, topic="Chat about anything.")
    mod_log = Channel(
        id=next_id(11),
        name="mod-log",
        position=1,
        topic="Moderation records.",
        overwrites=[
            Overwrite(id=guild_id, type=ROLE_OVERWRITE, deny=int(Permission.VIEW_CHANNEL)),
            Overwrite(
                id=by_name["Moderator"].id, type=ROLE_OVERWRITE, allow=int(Permission.VIEW_CHANNEL)
            ),
            Overwrite(
                id=by_name["Bulletin"].id, type=ROLE_OVERWRITE, allow=int(Permission.VIEW_CHANNEL)
            ),
        ],
    )
    members = [
        GuildMember(
            user=users[username],
            role_ids=[by_name[r].id for r in role_names],
            joined_at=created + timedelta(days=1 + index),
        )
        for index, (username, role_names) in enumerate(member_roles.items())
    ]
    members.append(
        GuildMember(
            user=bot, role_ids=[by_name["Bulletin"].id], joined_at=created + timedelta(days=30)
        )
    )
    return Guild(
        key=key,
        id=guild_id,
        name=name,
        owner_id=users["owner"].id,
        roles=roles,
        channels=[general, mod_log],
        members=members,
        created_at=created,
    )


def default_world(*, token: str | None = None) -> World:
    """Build the standard test world.

    Guild "alpha" (shard 0 of 2): owner, admin (Admin role: ADMINISTRATOR),
    moderator (Moderator role: kick, ban, moderate, manage messages), alice, bob,
    carol, dave, and the bot. Guild "beta" (shard 1 of 2): owner, admin, moderator,
    alice, erin, and the bot. Each has #general and a private #mod-log. Ids are
    fixed snowflakes, so they are the same in every run.
    """
    bot = User(id=BOT_USER_ID, username="Bulletin", global_name=None, bot=True)
    users = {
        name: User(id=uid, username=name, global_name=display)
        for name, (display, uid) in _PEOPLE.items()
    }
    # Whole-second creation times: even millisecond counts put alpha on shard 0 of 2,
    # the extra millisecond puts beta on shard 1.
    alpha_created = _at(2021, 3, 1)
    beta_created = _at(2022, 4, 2, ms=1)
    alpha = _build_guild(
        key="alpha",
        name="Alpha Community",
        guild_id=snowflake_at(alpha_created, worker=0, increment=0),
        bot=bot,
        users=users,
        member_roles={
            "owner": [],
            "admin": ["Admin"],
            "moderator": ["Moderator"],
            "alice": [],
            "bob": [],
            "carol": [],
            "dave": [],
        },
        created=alpha_created,
    )
    beta = _build_guild(
        key="beta",
        name="Beta Club",
        guild_id=snowflake_at(beta_created, worker=0, increment=0),
        bot=bot,
        users=users,
        member_roles={
            "owner": [],
            "admin": ["Admin"],
            "moderator": ["Moderator"],
            "alice": [],
            "erin": [],
        },
        created=beta_created,
    )
    return World(bot=bot, token=token or bot_token(bot.id), guilds=[alpha, beta])
