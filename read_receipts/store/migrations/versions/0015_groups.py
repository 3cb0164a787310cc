"""The ticket's group with each reply, as the reply-sent webhook says it, for figures per group.

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


def downgrade() -> None:
    """Drop the group's columns."""
    with op.batch_alter_table("reply_statuses", schema=None) as batch_op:
        batch_op.drop_column("group_name")
        batch_op.drop_column("group_id")
