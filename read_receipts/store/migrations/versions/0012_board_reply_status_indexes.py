"""Indexes the replies page and the agents' table read by: status or agent, newest first; the figures by time.

Revision ID: 0012_board
Revises: 0011_replies
Created: 2026-12-01
"""

from alembic import op

revision = "0012_board"
down_revision = "0011_replies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index reply statuses by status and time (with what the median reads), by agent and time, and by time."""
    op.create_index(
        "ix_reply_statuses_status_seen_at", "reply_statuses", ["status", "seen_at", "agent_id", "first_read_at"]
    )
    op.create_index("ix_reply_statuses_agent_seen_at", "reply_statuses", ["agent_id", "seen_at"])
    op.create_index("ix_reply_statuses_figures", "reply_statuses", ["seen_at", "agent_id", "status", "first_read_at"])


def downgrade() -> None:
    """Drop the indexes."""
    op.drop_index("ix_reply_statuses_figures", table_name="reply_statuses")
    op.drop_index("ix_reply_statuses_agent_seen_at", table_name="reply_statuses")
    op.drop_index("ix_reply_statuses_status_seen_at", table_name="reply_statuses")
