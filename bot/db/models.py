"""The models: a member's profile (``User``), their posts, and the command-sync record.

They are the one description of the schema (Alembic's autogenerate compares the migrations
with them) and what statements are written against. Instances come back from queries fully
loaded and detached; there are no relationships, so nothing can load implicitly (no
MissingGreenlet in async code). ``to_dict()`` gives a typed view that embeds are built from.

``users.post_count`` is kept equal to the member's number of posts by database triggers
(migration 0002) in the same transaction as each insert or delete of a post, so a profile
shows its count in one indexed lookup however many posts a member has.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.db.types import BigIntPK, UTCDateTime

# Named constraints let later migrations alter them, which SQLite's batch mode needs.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME_MAX = 32
TITLE_MAX = 256
BODY_MAX = 4000


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserDict(TypedDict):
    """``User.to_dict()``."""

    id: int
    guild_id: int
    discord_id: int
    name: str
    age: int
    post_count: int
    created_at: datetime
    updated_at: datetime


class PostDict(TypedDict):
    """``Post.to_dict()``."""

    id: int
    user_id: int
    guild_id: int
    title: str
    body: str | None
    created_at: datetime


class User(Base):
    """A member's profile in one guild; the same person has one profile per guild."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("guild_id", "discord_id"),
        # The member list of one server, by name, one keyset page at a time.
        Index("ix_users_guild_id_name_id", "guild_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    discord_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    age: Mapped[int]
    post_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def to_dict(self) -> UserDict:
        """The profile as a typed dictionary; every embed about a profile is built from it."""
        return {
            "id": self.id,
            "guild_id": self.guild_id,
            "discord_id": self.discord_id,
            "name": self.name,
            "age": self.age,
            "post_count": self.post_count,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def __repr__(self) -> str:
        return f"<User id={self.id} guild={self.guild_id} discord={self.discord_id} name={self.name!r}>"


class Post(Base):
    """A post a member published in one guild."""

    __tablename__ = "posts"
    # "A member's posts, newest first" walks this index; a foreign key alone has none on SQLite.
    __table_args__ = (Index("ix_posts_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    guild_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str | None] = mapped_column(String(BODY_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the post was announced, so the message can go with the post (older posts: none).
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)

    def to_dict(self) -> PostDict:
        """The post as a typed dictionary; every embed about a post is built from it."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "guild_id": self.guild_id,
            "title": self.title,
            "body": self.body,
            "created_at": self.created_at,
        }

    def __repr__(self) -> str:
        return f"<Post id={self.id} user={self.user_id} title={self.title!r}>"


class CommandSync(Base):
    """What was last uploaded to Discord for one application and scope (0 = global, else a guild).

    Start-up compares the local command tree with this fingerprint and only syncs on a
    difference, so restarts do not spend Discord's command rate limit. It lives in the database
    so that several shard processes agree on it.
    """

    __tablename__ = "command_syncs"

    application_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The Bulletin version that uploaded (``bot.__version__``); None before migration 0005.
    # An older process never uploads over a newer one's commands during a rolling deploy.
    bot_version: Mapped[str | None] = mapped_column(String(32))


class IdentifyBucket(Base):
    """When the last IDENTIFY of one gateway rate-limit bucket (``shard_id % max_concurrency``)
    may go, shared by every shard process of a deployment on PostgreSQL.

    Discord allows one IDENTIFY per bucket every 5 seconds for the whole application, however
    many processes run its shards. ``identified_at`` may lie in the future: a process
    reserves the next free moment and waits for it. Unused on SQLite (one process).
    """

    __tablename__ = "identify_buckets"

    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    identified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseKind(StrEnum):
    """What a moderation case records."""

    WARN = "warn"
    NOTE = "note"
    TIMEOUT = "timeout"
    UNTIMEOUT = "untimeout"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    POST_REMOVED = "post_removed"
    POSTS_PURGED = "posts_purged"
    PROFILE_REMOVED = "profile_removed"
    BLOCK = "block"
    UNBLOCK = "unblock"

    @property
    def member_visible(self) -> bool:
        """Whether the member sees it in /mycases (notes are for moderators only)."""
        return self is not CaseKind.NOTE


REASON_MAX = 1000


class GuildSettings(Base):
    """Per-guild state: the case counter and the mod-log channel.

    ``last_case`` hands out case numbers: each case takes it with ``INSERT … ON CONFLICT
    (guild_id) DO UPDATE SET last_case = last_case + 1 RETURNING`` in the case's own write
    unit, which queues concurrent moderators on this row, so numbers have no gap and no
    duplicate on either database.
    """

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_case: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    modlog_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseDict(TypedDict):
    """``Case.to_dict()``."""

    number: int
    guild_id: int
    kind: str
    target_id: int
    moderator_id: int | None
    reason: str | None
    created_at: datetime
    expires_at: datetime | None
    lifted_at: datetime | None


class Case(Base):
    """A numbered moderation case in one guild: who did what to whom, and why."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("guild_id", "number"),
        # A member's history, newest first, one keyset page at a time.
        Index("ix_cases_guild_id_target_id_number", "guild_id", "target_id", "number"),
        # Temporary bans still to lift; the partial index holds only those.
        Index(
            "ix_cases_pending_expiry",
            "expires_at",
            sqlite_where=text("lifted_at IS NULL AND expires_at IS NOT NULL"),
            postgresql_where=text("lifted_at IS NULL AND expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column(BigInteger)
    # NULL when unknown: a ban made in Discord's own menu.
    moderator_id: Mapped[int | None] = mapped_column(BigInteger)
    # As typed (the audit log gets a cut copy); NULL when Discord gave none.
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set only once Discord has lifted the ban (or a later ban or unban closed it).
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A process lifting the ban holds it until then; a lease that runs out is taken again.
    expiry_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    modlog_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    modlog_message_id: Mapped[int | None] = mapped_column(BigInteger)

    def to_dict(self) -> CaseDict:
        """The case as a typed dictionary; every embed about a case is built from it."""
        return {
            "number": self.number,
            "guild_id": self.guild_id,
            "kind": self.kind,
            "target_id": self.target_id,
            "moderator_id": self.moderator_id,
            "reason": self.reason,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "lifted_at": self.lifted_at,
        }


class CaseAmendment(Base):
    """A reason a case had before ``/mod reason`` replaced it."""

    __tablename__ = "case_amendments"
    __table_args__ = (Index("ix_case_amendments_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
    )
    previous_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    moderator_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Block(Base):
    """A member who may not use the bot's member commands in one guild.

    It is its own row, not part of the profile, so it outlives /leave and a removed profile;
    the commands it stops check it in their own statement, so a block that lands first wins.
    """

    __tablename__ = "blocks"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    moderator_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PendingConfirmation(Base):
    """A moderator's request waiting for Confirm, with what a ``custom_id`` cannot carry.

    The Confirm button holds only this row's id; the reason may be 1,000 characters. Confirm
    deletes the row in the same write unit as the action, so it happens once, and a failed
    action rolls the deletion back and leaves the buttons usable.
    """

    __tablename__ = "pending_confirmations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    owner_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
