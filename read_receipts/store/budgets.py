"""Budgets and holds every worker and instance shares through the store."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, or_, select, update
from sqlalchemy.engine import Connection

from read_receipts.store.database import Database, insert_ignore
from read_receipts.store.deliveries import retry_failed_now as retry_notes_now
from read_receipts.store.holds import end_hold, take_hold
from read_receipts.store.schema import budgets, holds
from read_receipts.store.ticket_updates import retry_failed_now as retry_updates_now
from read_receipts.store.tickets import retry_failed_now as retry_checks_now


class Budgets(Database):
    """Fixed-window budgets of calls, pauses of all calls, and the work waiting on them."""

    def take(self, budgets_wanted: Sequence[tuple[str, float, int]], now: float) -> float:
        """Use one unit of each (key, window, limit) budget, or of none of them.

        Returns 0 when granted, else the seconds until the refusing budget's
        window frees. The budgets are shared by every worker and instance through the store.
        """
        try:
            with self.engine.begin() as conn:
                for key, window, limit in budgets_wanted:
                    if not _take_one(conn, key, window, limit, now):
                        raise _Refused(key, window)  # roll back the units already taken
        except _Refused as refused:
            key, window = refused.args
            with self.reading() as conn:
                start = conn.execute(select(budgets.c.window_start).where(budgets.c.key == key)).scalar()
            return max(0.5, (start or now) + window - now)
        return 0.0

    def used(self, key: str, window: float, now: float) -> int:
        """Return how much of a budget its current window has used (0 once the window ended)."""
        with self.reading() as conn:
            row = conn.execute(select(budgets.c.window_start, budgets.c.used).where(budgets.c.key == key)).first()
        return row.used if row is not None and row.window_start + window > now else 0

    def forget(self, before: float) -> None:
        """Drop budget windows and holds that ended long ago (per-ticket keys pile up)."""
        with self.engine.begin() as conn:
            conn.execute(budgets.delete().where(budgets.c.window_start < before))
            conn.execute(holds.delete().where(holds.c.until < before))

    def hold(self, key: str, until: float) -> None:
        """Pause all calls of one kind until a time (e.g. Zendesk's Retry-After)."""
        with self.engine.begin() as conn:
            insert_ignore(conn, holds, key=key, until=until)
            conn.execute(update(holds).where(holds.c.key == key, holds.c.until < until).values(until=until))

    def lease(self, key: str, now: float, lease: float) -> float | None:
        """Become the one holder of a key (of any worker and instance) for `lease` seconds; when it ends, or None."""
        with self.engine.begin() as conn:
            return now + lease if take_hold(conn, key, now, lease) else None

    def end_lease(self, key: str, until: float) -> None:
        """Give a lease back before it runs out."""
        with self.engine.begin() as conn:
            end_hold(conn, key, until)

    def held_until(self, key: str) -> float:
        """Return when a hold ends (0 when none)."""
        with self.reading() as conn:
            return conn.execute(select(holds.c.until).where(holds.c.key == key)).scalar() or 0.0

    def retry_waiting_now(self, now: float) -> None:
        """Make every delivery, ticket check and ticket update waiting after a failure due now."""
        with self.engine.begin() as conn:
            retry_notes_now(conn, now)
            retry_checks_now(conn, now)
            retry_updates_now(conn, now)


class _Refused(Exception):
    """A budget had no unit left."""


def _take_one(conn: Connection, key: str, window: float, limit: int, now: float) -> bool:
    """Use one unit of a fixed-window budget."""
    insert_ignore(conn, budgets, key=key, window_start=now, used=0)
    expired = budgets.c.window_start + window <= now
    granted = conn.execute(
        update(budgets)
        .where(budgets.c.key == key, or_(expired, budgets.c.used < limit))
        .values(
            used=case((expired, 1), else_=budgets.c.used + 1),
            window_start=case((expired, now), else_=budgets.c.window_start),
        )
    )
    return granted.rowcount == 1
