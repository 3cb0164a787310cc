"""The words of each note's try, kept before the call, so an unknown outcome is looked for before posting again.

Revision ID: 0009_delivery
Revises: 0008_unopened
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_delivery"
down_revision = "0008_unopened"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add a delivery's body and the opens it covers."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("covered", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("covered")
        batch_op.drop_column("body")
