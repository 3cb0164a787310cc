"""Counts kept as work happens: tallies, daily and campaign rollups, and the figures /metrics reports."""

from __future__ import annotations

import time

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection

from read_receipts.store.database import Database, dialect
from read_receipts.store.schema import deliveries, opens, tallies, webhooks


class RollupStore(Database):
    """Monotonic tallies and the queue figures read beside them."""

    def tally(self, counts: dict[str, int]) -> None:
        """Add to monotonic counts (for /metrics)."""
        with self.engine.begin() as conn:
            add_tallies(conn, counts)

    def figures(self, now: float) -> dict:
        """What /metrics reports, read in one go: tallies, queue depths, oldest waiting work."""
        waiting = {
            "opens": (opens.c.opened_at, opens.c.state == "new"),
            "notes": (deliveries.c.created_at, deliveries.c.state == "pending"),
            "webhooks": (webhooks.c.created_at, webhooks.c.state == "pending"),
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
                select(func.count()).select_from(opens).where(opens.c.state == "new")
            ).scalar_one()
            waiting_notes = conn.execute(
                select(func.count()).select_from(deliveries).where(deliveries.c.state == "pending")
            ).scalar_one()
        return waiting_opens + waiting_notes


def add_counts(conn: Connection, table: Table, keys: tuple[str, ...], counts: dict[tuple, int]) -> None:
    """Add to a rollup table's counts, one executemany upsert."""
    if not counts:
        return
    upsert = dialect(conn).insert(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c[key] for key in keys], set_={"count": table.c.count + upsert.excluded.count}
    )
    conn.execute(upsert, [{**dict(zip(keys, key, strict=True)), "count": n} for key, n in sorted(counts.items())])


def add_tallies(conn: Connection, counts: dict[str, int]) -> None:
    """Add to tallies, in the caller's transaction."""
    add_counts(conn, tallies, ("key",), {(key[:64],): n for key, n in counts.items()})


def utc_day(timestamp: float) -> str:
    """The UTC date of a time, as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))
