"""The figures /metrics reports: monotonic tallies, and the depth and age of each queue."""

from __future__ import annotations

from sqlalchemy import func, select

from read_receipts.store.database import Database
from read_receipts.store.deliveries import DeliveryState
from read_receipts.store.opens import OpenState
from read_receipts.store.rollups import add_tallies
from read_receipts.store.schema import deliveries, opens, tallies, webhooks
from read_receipts.store.webhook_calls import WebhookState


class Tallies(Database):
    """Monotonic tallies and the queue figures read beside them."""

    def tally(self, counts: dict[str, int]) -> None:
        """Add to monotonic counts (for /metrics)."""
        with self.engine.begin() as conn:
            add_tallies(conn, counts)

    def figures(self, now: float) -> dict:
        """What /metrics reports, read in one go: tallies, and per queue its depth and how long its most overdue item is late.

        A note or webhook call is late from its due time on, not from when it was queued: a summary
        that waits for NOTE_INTERVAL, or a retry that waits for its backoff, is scheduled, not late.
        """
        waiting = {
            "opens": (opens.c.opened_at, opens.c.state == OpenState.NEW),
            "notes": (deliveries.c.due_at, deliveries.c.state == DeliveryState.PENDING),
            "webhooks": (webhooks.c.due_at, webhooks.c.state == WebhookState.PENDING),
        }
        with self.reading() as conn:
            counts = dict(conn.execute(select(tallies.c.key, tallies.c.count)).all())
            queues = {}
            for name, (due, pending) in waiting.items():
                depth = conn.execute(select(func.count()).where(pending)).scalar_one()
                overdue, oldest = conn.execute(select(func.count(), func.min(due)).where(pending, due <= now)).one()
                queues[name] = (depth, overdue, now - oldest if oldest else 0.0)
        return {"tallies": counts, "queues": queues}

    def pending_count(self) -> int:
        """Count opens and deliveries still waiting."""
        with self.reading() as conn:
            waiting_opens = conn.execute(
                select(func.count()).select_from(opens).where(opens.c.state == OpenState.NEW)
            ).scalar_one()
            waiting_notes = conn.execute(
                select(func.count()).select_from(deliveries).where(deliveries.c.state == DeliveryState.PENDING)
            ).scalar_one()
        return waiting_opens + waiting_notes
