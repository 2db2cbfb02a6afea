"""Each profile's post count, kept by the database itself.

``users.post_count`` is backfilled from the posts, then kept equal to the member's number of
posts by triggers that run in the transaction of every insert or delete on ``posts``
(cascades from a deleted profile included). SQLite has row-level triggers; PostgreSQL gets
statement-level ones over transition tables, so deleting 10,000 posts updates each owner's
row once. SQLite drops a table's triggers when batch mode copies the table: a later
migration that alters ``posts`` must create these again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER posts_count_insert AFTER INSERT ON posts FOR EACH ROW
    BEGIN
        UPDATE users SET post_count = post_count + 1 WHERE id = NEW.user_id;
    END
    """,
    """
    CREATE TRIGGER posts_count_delete AFTER DELETE ON posts FOR EACH ROW
    BEGIN
        UPDATE users SET post_count = post_count - 1 WHERE id = OLD.user_id;
    END
    """,
)

_POSTGRES_TRIGGERS = (
    """
    CREATE FUNCTION posts_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE users SET post_count = users.post_count + added.n
        FROM (SELECT user_id, count(*) AS n FROM new_posts GROUP BY user_id) AS added
        WHERE users.id = added.user_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION posts_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE users SET post_count = users.post_count - gone.n
        FROM (SELECT user_id, count(*) AS n FROM old_posts GROUP BY user_id) AS gone
        WHERE users.id = gone.user_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER posts_count_insert AFTER INSERT ON posts
    REFERENCING NEW TABLE AS new_posts FOR EACH STATEMENT
    EXECUTE FUNCTION posts_count_insert()
    """,
    """
    CREATE TRIGGER posts_count_delete AFTER DELETE ON posts
    REFERENCING OLD TABLE AS old_posts FOR EACH STATEMENT
    EXECUTE FUNCTION posts_count_delete()
    """,
)


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("post_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(
        "UPDATE users SET post_count = (SELECT count(*) FROM posts WHERE posts.user_id = users.id)"
    )
    triggers = _SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else _POSTGRES_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS posts_count_insert" + _on_posts())
    op.execute("DROP TRIGGER IF EXISTS posts_count_delete" + _on_posts())
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS posts_count_insert()")
        op.execute("DROP FUNCTION IF EXISTS posts_count_delete()")
    # Not batch mode: copying users on SQLite would cascade and delete every post.
    # SQLite drops a column in place since 3.35 (the project needs 3.35 for RETURNING).
    op.execute("ALTER TABLE users DROP COLUMN post_count")


def _on_posts() -> str:
    return "" if op.get_bind().dialect.name == "sqlite" else " ON posts"
