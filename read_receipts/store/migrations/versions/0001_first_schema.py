"""The schema as it stood when migrations began (the tables create_all made until then).

Revision ID: 0001
Revises: (none)
Created: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _outbox_columns() -> list[sa.Column]:
    """The state, tries, lease and last outcome every outbox row has (deliveries, webhooks)."""
    return [
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", sa.Float(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.String(length=36), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("done_at", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    """Create every table of the first schema."""
    _create_budgets()
    _create_campaign_events()
    _create_daily_opens()
    _create_deliveries()
    _create_events()
    _create_holds()
    _create_opens()
    _create_replies()
    _create_replies_sent()
    _create_tallies()
    _create_tickets()
    _create_webhooks()


def _create_budgets() -> None:
    """Create the budgets table."""
    op.create_table(
        "budgets",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def _create_campaign_events() -> None:
    """Create the campaign_events table."""
    op.create_table(
        "campaign_events",
        sa.Column("campaign", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("campaign", "kind"),
    )


def _create_daily_opens() -> None:
    """Create the daily_opens table."""
    op.create_table(
        "daily_opens",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "kind", "client"),
    )


def _create_deliveries() -> None:
    """Create the deliveries table."""
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("open_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        *_outbox_columns(),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_due", ["state", "due_at"], unique=False)


def _create_events() -> None:
    """Create the events table."""
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("occurred_at", sa.Float(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=8), server_default="new", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_state", ["state"], unique=False)


def _create_holds() -> None:
    """Create the holds table."""
    op.create_table(
        "holds",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def _create_opens() -> None:
    """Create the opens table."""
    op.create_table(
        "opens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.Float(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("sent", sa.String(length=40), nullable=True),
        sa.Column("client", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("signed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="new", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opens", schema=None) as batch_op:
        batch_op.create_index("ix_opens_state", ["state"], unique=False)


def _create_replies() -> None:
    """Create the replies table."""
    op.create_table(
        "replies",
        sa.Column("ticket_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reply_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_open_at", sa.Float(), nullable=False),
        sa.Column("last_open_at", sa.Float(), nullable=False),
        sa.Column("opens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opens_noted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_note_at", sa.Float(), server_default="0", nullable=False),
        sa.Column("summary_pending", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("read_noted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("first_read_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", "reply_key"),
    )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.create_index("ix_replies_first_open_at", ["first_open_at"], unique=False)


def _create_replies_sent() -> None:
    """Create the replies_sent table."""
    op.create_table(
        "replies_sent",
        sa.Column("ticket_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reply_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "reply_key"),
    )
    with op.batch_alter_table("replies_sent", schema=None) as batch_op:
        batch_op.create_index("ix_replies_sent_sent_at", ["sent_at"], unique=False)


def _create_tallies() -> None:
    """Create the tallies table."""
    op.create_table(
        "tallies",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def _create_tickets() -> None:
    """Create the tickets table."""
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.Float(), server_default="0", nullable=False),
        sa.Column("opted_out", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id"),
    )


def _create_webhooks() -> None:
    """Create the webhooks table."""
    op.create_table(
        "webhooks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        *_outbox_columns(),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.create_index("ix_webhooks_due", ["state", "due_at"], unique=False)


def downgrade() -> None:
    """Undo 0001."""
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_index("ix_webhooks_due")

    op.drop_table("webhooks")
    op.drop_table("tickets")
    op.drop_table("tallies")
    with op.batch_alter_table("replies_sent", schema=None) as batch_op:
        batch_op.drop_index("ix_replies_sent_sent_at")

    op.drop_table("replies_sent")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_index("ix_replies_first_open_at")

    op.drop_table("replies")
    with op.batch_alter_table("opens", schema=None) as batch_op:
        batch_op.drop_index("ix_opens_state")

    op.drop_table("opens")
    op.drop_table("holds")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_state")

    op.drop_table("events")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")

    op.drop_table("deliveries")
    op.drop_table("daily_opens")
    op.drop_table("campaign_events")
    op.drop_table("budgets")
