"""Moderation: numbered cases per guild, their amended reasons, and per-guild settings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("moderator_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modlog_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("modlog_message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("guild_id", "number", name=op.f("uq_cases_guild_id_number")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_guild_id_target_id_number", ["guild_id", "target_id", "number"], unique=False
        )
        batch_op.create_index(
            "ix_cases_pending_expiry",
            ["expires_at"],
            unique=False,
            sqlite_where=sa.text("lifted_at IS NULL AND expires_at IS NOT NULL"),
            postgresql_where=sa.text("lifted_at IS NULL AND expires_at IS NOT NULL"),
        )

    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_case", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("modlog_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_settings")),
    )
    op.create_table(
        "case_amendments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("previous_reason", sa.String(length=1000), nullable=True),
        sa.Column("moderator_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_amendments_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_amendments")),
    )
    with op.batch_alter_table("case_amendments", schema=None) as batch_op:
        batch_op.create_index("ix_case_amendments_case_id", ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_amendments", schema=None) as batch_op:
        batch_op.drop_index("ix_case_amendments_case_id")

    op.drop_table("case_amendments")
    op.drop_table("guild_settings")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_cases_pending_expiry",
            sqlite_where=sa.text("lifted_at IS NULL AND expires_at IS NOT NULL"),
            postgresql_where=sa.text("lifted_at IS NULL AND expires_at IS NOT NULL"),
        )
        batch_op.drop_index("ix_cases_guild_id_target_id_number")

    op.drop_table("cases")
