"""The queue of ticket updates without a note: the unread-reply tag and the last-read field.

Revision ID: 0008_unopened
Revises: 0007_api
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_unopened"
down_revision = "0007_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ticket_updates table (existing tables are left as they are)."""
    op.create_table(
        "ticket_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("wish", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unread_sent_at", sa.Float(), nullable=True),
        sa.Column("read_at", sa.Float(), nullable=True),
        sa.Column("tag_sent", sa.String(length=80), nullable=True),
        sa.Column("field_sent", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", sa.Float(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.String(length=36), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("done_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    with op.batch_alter_table("ticket_updates", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_updates_due", ["state", "due_at"], unique=False)


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("ticket_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_updates_due")
    op.drop_table("ticket_updates")
