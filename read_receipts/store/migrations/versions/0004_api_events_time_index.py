"""An index on when each tracking-link event happened: the dashboard finds the event behind a link's open by it.

Revision ID: 0004_api
Revises: 0003
Created: 2026-12-01
"""

from alembic import op

revision = "0004_api"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index events by occurred_at."""
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_events_occurred_at", table_name="events")
