"""Opt-outs: requesters (the link under the pixel) and tracking-link recipients who asked never to be tracked again.

Revision ID: 0005_optout
Revises: 0004_spool
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_optout"
down_revision = "0004_spool"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add opt_outs and recipient_opt_outs."""
    op.create_table(
        "opt_outs",
        sa.Column("requester_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("opted_out_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("requester_id"),
    )
    op.create_table(
        "recipient_opt_outs",
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("opted_out_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("recipient"),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("recipient_opt_outs")
    op.drop_table("opt_outs")
