"""Each reply's time to its first read, kept with its status, and the index the agents' medians walk.

`read_after` (seconds from the reply's time to its first read by a person) is filled in for the replies
read already. `(agent_id, read_after, seen_at)`, of the read replies only, holds each agent's reads in
time-to-read order: a median is a walk to its middle, in the database. It replaces the figures' index
`(seen_at, agent_id, status, first_read_at)`, so a load rewrites as many indexes as before.

Revision ID: 0014_agent_figures
Revises: 0013_tag_times
Created: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_agent_figures"
down_revision = "0013_tag_times"
branch_labels = None
depends_on = None

statuses = sa.table(
    "reply_statuses",
    sa.column("seen_at", sa.Float),
    sa.column("first_read_at", sa.Float),
    sa.column("read_after", sa.Float),
)


def upgrade() -> None:
    """Add and fill `read_after`, then swap the figures' index for the medians'."""
    with op.batch_alter_table("reply_statuses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_after", sa.Float(), nullable=True))
    op.execute(
        sa.update(statuses)
        .where(statuses.c.first_read_at.is_not(None))
        .values(read_after=statuses.c.first_read_at - statuses.c.seen_at)
    )
    op.drop_index("ix_reply_statuses_figures", table_name="reply_statuses")
    op.create_index(
        "ix_reply_statuses_read_after",
        "reply_statuses",
        ["agent_id", "read_after", "seen_at"],
        sqlite_where=sa.text("read_after IS NOT NULL"),
        postgresql_where=sa.text("read_after IS NOT NULL"),
    )


def downgrade() -> None:
    """Put back 0012's figures index and drop the column."""
    op.drop_index("ix_reply_statuses_read_after", table_name="reply_statuses")
    op.create_index("ix_reply_statuses_figures", "reply_statuses", ["seen_at", "agent_id", "status", "first_read_at"])
    with op.batch_alter_table("reply_statuses", schema=None) as batch_op:
        batch_op.drop_column("read_after")
