"""The spool's segments: how far each local file of opens and events has been moved into the store.

Revision ID: 0002
Revises: 0001
Created: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add spool_segments."""
    op.create_table(
        "spool_segments",
        sa.Column("segment", sa.String(length=80), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("segment"),
    )


def downgrade() -> None:
    """Drop spool_segments."""
    op.drop_table("spool_segments")
