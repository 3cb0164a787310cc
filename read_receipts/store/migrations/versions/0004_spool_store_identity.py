"""The store's identity: an id each spool directory names, so a spool belongs to one store.

Revision ID: 0004_spool
Revises: 0003
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_spool"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add store_identity (its one row is made at start-up)."""
    op.create_table(
        "store_identity",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    """Drop store_identity."""
    op.drop_table("store_identity")
