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
        """What /metrics reports, read in one go: tallies, queue depths, oldest waiting work."""
        waiting = {
            "opens": (opens.c.opened_at, opens.c.state == OpenState.NEW),
            "notes": (deliveries.c.created_at, deliveries.c.state == DeliveryState.PENDING),
            "webhooks": (webhooks.c.created_at, webhooks.c.state == WebhookState.PENDING),
        }
        with self.reading() as conn:
            counts = dict(conn.execute(select(tallies.c.key, tallies.c.count)).all())
            queues = {}
            for name, (created, pending) in waiting.items():
                depth, oldest = conn.execute(select(func.count(), func.min(created)).where(pending)).one()
                queues[name] = (depth, now - oldest if oldest else 0.0)
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
