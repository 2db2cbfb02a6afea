"""The ORM models: a member's profile (``User``), their posts, and the command-sync record.

Relationships never load implicitly (``lazy="raise"``): touching one that was not loaded
explicitly raises at once instead of failing later with MissingGreenlet in async code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, MetaData, String, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db.types import BigIntPK, UTCDateTime, utcnow

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


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A member's profile in one guild; the same person has one profile per guild."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("guild_id", "discord_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    discord_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    age: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    posts: Mapped[list[Post]] = relationship(
        back_populates="user", lazy="raise", passive_deletes=True, order_by="Post.id.desc()"
    )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view of the profile; every embed about a profile is built from it."""
        return {
            "id": self.id,
            "guild_id": self.guild_id,
            "discord_id": self.discord_id,
            "name": self.name,
            "age": self.age,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="posts", lazy="raise")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view of the post; every embed about a post is built from it."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "guild_id": self.guild_id,
            "title": self.title,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
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
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
