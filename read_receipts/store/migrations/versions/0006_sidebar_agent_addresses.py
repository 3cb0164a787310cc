"""Agents' addresses learned from the Zendesk sidebar app, the agent passes already used.

Revision ID: 0006_sidebar
Revises: 0005_optout
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_sidebar"
down_revision = "0005_optout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the learned agent addresses and the used agent passes."""
    op.create_table(
        "agent_addresses",
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("agent_id", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("verified_reads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("checked_at", sa.Float(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_table(
        "agent_passes",
        sa.Column("pass_id", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("pass_id"),
    )
    op.create_index("ix_agent_passes_used_at", "agent_passes", ["used_at"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("ix_agent_passes_used_at", table_name="agent_passes")
    op.drop_table("agent_passes")
    op.drop_table("agent_addresses")
