"""Indexes the dashboard reads by: opens by ticket (search, a ticket's page), events by time (a link's open).

Revision ID: 0007_api
Revises: 0006_sidebar
Created: 2026-12-01
"""

from alembic import op

revision = "0007_api"
down_revision = "0006_sidebar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index opens by ticket and id, events by occurred_at."""
    op.create_index("ix_opens_ticket_id", "opens", ["ticket_id", "id"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])


def downgrade() -> None:
    """Drop the indexes."""
    op.drop_index("ix_events_occurred_at", table_name="events")
    op.drop_index("ix_opens_ticket_id", table_name="opens")
