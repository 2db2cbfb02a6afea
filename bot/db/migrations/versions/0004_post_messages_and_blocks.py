"""Posts remember their announcement message; members can be blocked; the member list by
name; moderators' requests waiting for Confirm.

``posts.channel_id``/``message_id`` are added in place (plain ``ALTER TABLE``): SQLite's
batch mode would copy ``posts`` and lose migration 0002's triggers. Older posts have none.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("moderator_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "member_id", name=op.f("pk_blocks")),
    )
    op.create_table(
        "pending_confirmations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_confirmations")),
    )
    op.add_column("posts", sa.Column("channel_id", sa.BigInteger(), nullable=True))
    op.add_column("posts", sa.Column("message_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_users_guild_id_name_id", "users", ["guild_id", "name", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_users_guild_id_name_id", table_name="users")
    # In place again (SQLite 3.35+ drops a column without copying the table).
    op.execute("ALTER TABLE posts DROP COLUMN message_id")
    op.execute("ALTER TABLE posts DROP COLUMN channel_id")
    op.drop_table("pending_confirmations")
    op.drop_table("blocks")
