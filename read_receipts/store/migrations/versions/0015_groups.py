"""The ticket's group with each reply, as the reply-sent webhook says it, for figures per group.

Two partial indexes, of the replies with a group only, serve the groups' counts `(group_id, seen_at, status,
read_after)` and their medians `(group_id, read_after, seen_at)` of the read ones, as the agents' indexes do.

Revision ID: 0015_groups
Revises: 0014_agent_figures
Created: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_groups"
down_revision = "0014_agent_figures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the group's id and name; the replies known before have none."""
    with op.batch_alter_table("reply_statuses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("group_name", sa.String(length=120), nullable=True))
    having_group = "group_id IS NOT NULL"
    op.create_index(
        "ix_reply_statuses_group_seen_at",
        "reply_statuses",
        ["group_id", "seen_at", "status", "read_after"],
        sqlite_where=sa.text(having_group),
        postgresql_where=sa.text(having_group),
    )
    read_with_group = "group_id IS NOT NULL AND read_after IS NOT NULL"
    op.create_index(
        "ix_reply_statuses_group_read_after",
        "reply_statuses",
        ["group_id", "read_after", "seen_at"],
        sqlite_where=sa.text(read_with_group),
        postgresql_where=sa.text(read_with_group),
    )


def downgrade() -> None:
    """Drop the group's indexes and columns."""
    op.drop_index("ix_reply_statuses_group_read_after", table_name="reply_statuses")
    op.drop_index("ix_reply_statuses_group_seen_at", table_name="reply_statuses")
    with op.batch_alter_table("reply_statuses", schema=None) as batch_op:
        batch_op.drop_column("group_name")
        batch_op.drop_column("group_id")
