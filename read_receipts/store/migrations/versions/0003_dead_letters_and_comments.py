"""Dead letters (opens and events keep why they failed) and the cache of each ticket's public comments.

Revision ID: 0003
Revises: 0002
Created: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the error of dead opens and events, and the tickets' public comment ids."""
    with op.batch_alter_table("opens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.String(length=300), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.String(length=300), nullable=True))
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_comments", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("comments_at", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("comments_at")
        batch_op.drop_column("public_comments")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("error")
    with op.batch_alter_table("opens", schema=None) as batch_op:
        batch_op.drop_column("error")
