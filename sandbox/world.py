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
    # Whether the user accepts DMs from server members (Discord's privacy setting); a bot
    # sending to someone with DMs closed gets 50007. Tests flip it: ``user.dms_open = False``.
    dms_open: bool = True

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
class Ban:
    """A user banned from a guild, with the reason (the X-Audit-Log-Reason of the ban)."""

    user: User
    reason: str | None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def payload(self) -> JSON:
        """Return the ban object Discord sends (GET bans)."""
        return {"user": self.user.payload(), "reason": self.reason}


DM = 1


@dataclass
class DMChannel:
    """The bot's direct-message channel with one user."""

    id: int
    recipient: User

    def payload(self) -> JSON:
        """Return the private channel object Discord sends."""
        return {
            "id": str(self.id),
            "type": DM,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self.recipient.payload()],
        }


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
    # user id -> ban, in the order they were made
    bans: dict[int, Ban] = field(default_factory=dict)
    deleted_channels: list[Channel] = field(default_factory=list)

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

    def rank(self, role: Role) -> tuple[bool, int, int]:
        """A role's place in the hierarchy, as a sort key (higher ranks higher).

        Discord's order, and discord.py's ``Role.__lt__``: @everyone below everything, then
        by position; at equal positions the role with the LOWER id ranks HIGHER.
        """
        return (role.id != self.id, role.position, -role.id)

    def top_role(self, member: GuildMember) -> Role:
        """The member's highest role (@everyone when they have none)."""
        roles = [self.role(r) for r in member.role_ids if r != self.id]
        return max(roles, key=self.rank, default=self.everyone)

    def outranks(self, actor: GuildMember, target: GuildMember) -> bool:
        """Whether `actor` may act on `target` by the hierarchy (not by permissions).

        Nobody outranks the owner; the owner outranks everyone else; otherwise the
        actor's top role must be strictly above the target's. Administrator gives no rank.
        """
        if target.id == self.owner_id:
            return False
        if actor.id == self.owner_id:
            return True
        return self.rank(self.top_role(actor)) > self.rank(self.top_role(target))

    def is_administrator(self, member: GuildMember) -> bool:
        """The owner, or a member with a role carrying ADMINISTRATOR."""
        if member.id == self.owner_id:
            return True
        perms = self.everyone.permissions
        for role_id in member.role_ids:
            if role_id != self.id:
                perms |= self.role(role_id).permissions
        return bool(perms & Permission.ADMINISTRATOR)

    # changing the guild (tests use these through the Emulator, which also sends the events)

    def add_role(
        self,
        name: str,
        *,
        permissions: int = 0,
        position: int | None = None,
        role_id: int | None = None,
        color: int = 0,
        hoist: bool = False,
    ) -> Role:
        """Create a role; `position` defaults to just above the highest one."""
        if position is None:
            position = max((r.position for r in self.roles), default=0) + 1
        if role_id is None:
            role_id = snowflake_at(datetime.now(UTC), worker=3, increment=len(self.roles))
            while any(r.id == role_id for r in self.roles):
                role_id += 1
        role = Role(
            id=role_id,
            name=name,
            permissions=int(permissions),
            position=position,
            color=color,
            hoist=hoist,
        )
        self.roles.append(role)
        return role

    def remove_member(self, ref: str | int) -> GuildMember:
        """Take a member out of the guild (left, kicked or banned); returns the old membership."""
        member = self.member(ref)
        self.members.remove(member)
        return member

    def add_member(self, user: User, *, role_ids: list[int] | None = None) -> GuildMember:
        """Make a user a member (joined now); no-op if they already are."""
        found = self.find_member(user.id)
        if found is not None:
            return found
        member = GuildMember(user=user, role_ids=list(role_ids or []), joined_at=datetime.now(UTC))
        self.members.append(member)
        return member

    def remove_channel(self, ref: str | int) -> Channel:
        """Delete a channel; its id is remembered so the API answers 10003 for it."""
        channel = self.channel(ref)
        self.channels.remove(channel)
        self.deleted_channels.append(channel)
        return channel

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
    # Every user Discord knows, members or not (someone who left can still be banned).
    users: dict[int, User] = field(default_factory=dict)
    # recipient's user id -> the bot's DM channel with them
    dm_channels: dict[int, DMChannel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.users.setdefault(self.bot.id, self.bot)
        for guild in self.guilds:
            for member in guild.members:
                self.users.setdefault(member.id, member.user)

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

    def find_user(self, ref: str | int) -> User | None:
        """A user Discord knows (a member of any guild, or not), by username or id, or None."""
        if ref in (self.bot.id, self.bot.username):
            return self.bot
        for guild in self.guilds:
            found = guild.find_member(ref)
            if found is not None:
                return found.user
        for user in self.users.values():
            if ref in (user.id, user.username):
                return user
        return None

    def user(self, ref: str | int) -> User:
        """Find a user Discord knows (from any guild, or who left every one) by username or id."""
        found = self.find_user(ref)
        if found is None:
            raise LookupError(f"no user {ref!r} known to Discord")
        return found

    def add_user(
        self,
        username: str,
        *,
        user_id: int | None = None,
        global_name: str | None = None,
        dms_open: bool = True,
    ) -> User:
        """A new Discord account, member of no guild (yet)."""
        if self.find_user(username) is not None:
            raise ValueError(f"a user named {username!r} already exists")
        uid = user_id if user_id is not None else snowflake_at(datetime.now(UTC), worker=4)
        while uid in self.users:
            uid += 1
        user = User(id=uid, username=username, global_name=global_name, dms_open=dms_open)
        self.users[uid] = user
        return user

    def forget_user(self, ref: str | int) -> User:
        """Make a user unknown to Discord (a deleted account): out of every guild and ban list."""
        user = self.user(ref)
        if user.id == self.bot.id:
            raise ValueError("the bot cannot be forgotten")
        for guild in self.guilds:
            if guild.find_member(user.id) is not None:
                guild.remove_member(user.id)
        self.users.pop(user.id, None)
        self.dm_channels.pop(user.id, None)
        return user

    def is_known(self, user_id: int) -> bool:
        """Whether Discord knows a user with this id."""
        return self.find_user(user_id) is not None

    def shares_guild(self, user_id: int) -> bool:
        """Whether the user is a member of at least one guild the bot is in."""
        return any(
            g.find_member(user_id) is not None and g.find_member(self.bot.id) is not None
            for g in self.guilds
        )

    def dm_channel(self, ref: int) -> DMChannel | None:
        """The DM channel with that id, if the bot opened it."""
        for channel in self.dm_channels.values():
            if channel.id == ref:
                return channel
        return None

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
    extra: bool = False,
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
    if extra:
        roles.append(Role(id=next_id(4), name="Member", permissions=0, position=1, color=0x2ECC71))
        roles[1].position, roles[2].position, roles[3].position = 2, 3, 4
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
        channels=[general, mod_log]
        + (
            [Channel(id=next_id(12), name="announcements", position=2, topic="News.")]
            if extra
            else []
        ),
        members=members,
        created_at=created,
    )


def _generated_guild(
    number: int, *, bot: User, users: dict[str, User], pool: list[str], members: int
) -> Guild:
    """Guild number `number` (3, 4, ...) of a sized world: 5 roles, 3 channels, `members` people."""
    # One millisecond apart: consecutive guilds land on consecutive shards.
    created = _GENERATED_FROM + timedelta(milliseconds=number)
    names = ["owner", "admin", "moderator", *pool][: max(members, 3)]
    roles = {"admin": ["Admin"], "moderator": ["Moderator"]}
    return _build_guild(
        key=f"guild{number}",
        name=f"Guild {number}",
        guild_id=snowflake_at(created, worker=0),
        bot=bot,
        users=users,
        member_roles={n: roles.get(n, ["Member"] if n in pool else []) for n in names},
        created=created,
        extra=True,
    )


_GENERATED_FROM = datetime(2023, 1, 1, tzinfo=UTC)


def default_world(
    *, token: str | None = None, guilds: int = 2, members_per_guild: int = 5
) -> World:
    """Build the standard test world.

    Guild "alpha" (shard 0 of 2): owner, admin (Admin role: ADMINISTRATOR),
    moderator (Moderator role: kick, ban, moderate, manage messages), alice, bob,
    carol, dave, and the bot. Guild "beta" (shard 1 of 2): owner, admin, moderator,
    alice, erin, and the bot. Each has #general and a private #mod-log. Ids are
    fixed snowflakes, so they are the same in every run.

    A bigger world for scale runs: `guilds` in all (1 gives alpha alone; past 2, "guild3",
    "guild4"... one millisecond apart, so they spread evenly over any shard count), each
    generated guild with 5 roles (@everyone, Moderator, Bulletin, Admin, Member), 3
    channels (#general, #mod-log, #announcements) and `members_per_guild` members (at
    least 3: owner, admin, moderator, then member1, member2..., the same people in every
    generated guild) besides the bot.
    """
    if guilds < 1:
        raise ValueError("a world needs at least one guild")
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
    pool = [f"member{n}" for n in range(1, max(members_per_guild - 3, 0) + 1)]
    for index, name in enumerate(pool):
        users[name] = User(
            id=snowflake_at(_GENERATED_FROM - timedelta(days=30, milliseconds=index)),
            username=name,
            global_name=f"Member {index + 1}",
        )
    generated = [
        _generated_guild(n, bot=bot, users=users, pool=pool, members=members_per_guild)
        for n in range(3, guilds + 1)
    ]
    everything = [alpha, beta, *generated][:guilds]
    return World(bot=bot, token=token or bot_token(bot.id), guilds=everything)
