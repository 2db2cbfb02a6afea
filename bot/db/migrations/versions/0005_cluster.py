"""Shard processes as a cluster: the version that synced the commands, and IDENTIFY buckets.

``command_syncs.bot_version`` records which Bulletin version uploaded the commands, so that
during a rolling deploy a process still running the older version never uploads over the
newer one's. ``identify_buckets`` holds, per gateway rate-limit bucket, when its last
IDENTIFY may go, so that shard processes on several machines keep to Discord's pace together.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("command_syncs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bot_version", sa.String(length=32), nullable=True))
    op.create_table(
        "identify_buckets",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("identified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_identify_buckets")),
    )


def downgrade() -> None:
    op.drop_table("identify_buckets")
    with op.batch_alter_table("command_syncs", schema=None) as batch_op:
        batch_op.drop_column("bot_version")
