"""When Zendesk was given a ticket's unread tag, and when it was taken away again.

Revision ID: 0013_tag_times
Revises: 0012_board
Created: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_tag_times"
down_revision = "0012_board"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two times (unknown for tags sent before: null)."""
    with op.batch_alter_table("ticket_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tagged_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("untagged_at", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("ticket_updates", schema=None) as batch_op:
        batch_op.drop_column("untagged_at")
        batch_op.drop_column("tagged_at")
