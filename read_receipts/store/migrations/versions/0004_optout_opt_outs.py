"""Opt-outs: requesters who asked, through the link under the pixel, never to be tracked again.

Revision ID: 0004_optout
Revises: 0003
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_optout"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add opt_outs."""
    op.create_table(
        "opt_outs",
        sa.Column("requester_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("opted_out_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("requester_id"),
    )


def downgrade() -> None:
    """Drop opt_outs."""
    op.drop_table("opt_outs")
