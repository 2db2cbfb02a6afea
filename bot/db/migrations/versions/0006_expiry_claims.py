"""Temporary bans: a claim on lifting one is a lease, not the lifting itself.

``cases.expiry_claimed_until``: a process lifting a due temporary ban holds it until then;
``lifted_at`` is set only once Discord has lifted the ban. A process that dies between its
claim and Discord's answer (or whose release of a failed claim cannot be written) leaves a
lease that runs out, and the ban is lifted by the next round instead of never.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expiry_claimed_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("expiry_claimed_until")
