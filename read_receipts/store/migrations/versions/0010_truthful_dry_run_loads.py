"""Dry-run loads stored before they had a state of their own become `dry_run`, and their pending notes are dropped.

A reply whose notes were only ever logged (a dry run, no Zendesk credentials) was decided without
Zendesk: its opens move to `dry_run`, its counters and its waiting notes go, so no summary of them
is ever posted once Zendesk is connected.

Revision ID: 0010_truthful
Revises: 0009_delivery
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_truthful"
down_revision = "0009_delivery"
branch_labels = None
depends_on = None

opens = sa.table(
    "opens", sa.column("ticket_id"), sa.column("comment_id"), sa.column("state"), sa.column("signed", sa.Boolean)
)
replies = sa.table("replies", sa.column("ticket_id"), sa.column("reply_key"))
deliveries = sa.table("deliveries", sa.column("ticket_id"), sa.column("reply_key"), sa.column("state"))


def upgrade() -> None:
    """Move the opens of replies noted only in a dry run to `dry_run`; drop those replies' counters and pending notes."""
    conn = op.get_bind()
    logged = sa.select(deliveries.c.ticket_id, deliveries.c.reply_key).where(deliveries.c.state == "logged")
    posted = sa.select(deliveries.c.ticket_id, deliveries.c.reply_key).where(deliveries.c.state == "done")
    for ticket_id, reply_key in conn.execute(logged.except_(posted)).all():
        reply = opens.c.comment_id.is_(None) if reply_key == 0 else opens.c.comment_id == reply_key
        conn.execute(
            sa.update(opens)
            .where(opens.c.ticket_id == ticket_id, reply, opens.c.state.in_(("noted", "counted")))
            .values(state="dry_run")
        )
        of_reply = (deliveries.c.ticket_id == ticket_id, deliveries.c.reply_key == reply_key)
        conn.execute(sa.delete(deliveries).where(*of_reply, deliveries.c.state == "pending"))
        conn.execute(sa.delete(replies).where(replies.c.ticket_id == ticket_id, replies.c.reply_key == reply_key))


def downgrade() -> None:
    """Nothing to undo in the schema; `dry_run` opens stay as they are (an older release never notes them)."""
