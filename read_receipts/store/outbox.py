"""The outboxes of note deliveries and webhook calls: leases, retries and final outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import String, Table, and_, cast, func, literal, select, update
from sqlalchemy.engine import Row

from read_receipts.store.database import Database
from read_receipts.store.replies import note_delivered
from read_receipts.store.rollups import add_tallies
from read_receipts.store.schema import budgets, deliveries, tickets, webhooks


class OutboxStore(Database):
    """Claims, releases and outcomes of queued deliveries and webhook calls."""

    def claim_deliveries(
        self, now: float, lease: float, limit: int, shares: tuple[int, int] | None = None
    ) -> list[Row]:
        """Lease up to `limit` due note deliveries to this caller, fairly across tickets and requesters.

        With `shares` (the notes a ticket may get per 10 minutes, and a requester
        per minute), tickets and requesters whose window is used up are skipped,
        and those with the fewest notes in their window go first: one busy ticket
        or requester never holds up the others.
        """
        if shares is None:
            return self._claim(deliveries, now, lease, limit)
        per_ticket, per_requester = shares
        requester = select(tickets.c.requester_id).where(tickets.c.ticket_id == deliveries.c.ticket_id)
        ticket_used = _used_now(literal("ticket:") + cast(deliveries.c.ticket_id, String), 600, now)
        requester_key = literal("requester:") + cast(requester.correlate(deliveries).scalar_subquery(), String)
        requester_used = _used_now(requester_key, 60, now)
        fair = and_(ticket_used < per_ticket, requester_used < per_requester)
        return self._claim(deliveries, now, lease, limit, fair, requester_used, ticket_used)

    def postpone_delivery(self, row: Row, due: float) -> None:
        """Give a leased delivery back untried, to be looked at again at `due` (a budget frees then)."""
        with self.engine.begin() as conn:
            where = (deliveries.c.id == row.id, deliveries.c.lease_owner == row.lease_owner)
            conn.execute(update(deliveries).where(*where).values(due_at=due, lease_until=0))

    def release_delivery(self, row: Row, due: float, status: int | None = None, error: str = "") -> None:
        """Give a leased delivery back, to be tried again at `due`."""
        self._release(deliveries, row, due, status, error)

    def finish_delivery(
        self,
        row: Row,
        state: str,
        now: float,
        interval: float,
        covered: int,
        status: int | None = None,
        error: str = "",
    ) -> bool:
        """Record a delivery's final outcome and move its reply's counters on."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == row.id,
                    deliveries.c.lease_owner == row.lease_owner,
                    deliveries.c.state == "pending",
                )
                .values(
                    state=state,
                    done_at=now,
                    lease_until=0,
                    attempts=deliveries.c.attempts + 1,
                    last_status=status,
                    last_error=error[:300] or None,
                )
            )
            if not done.rowcount:
                return False
            add_tallies(conn, {f"notes:{state}": 1})
            note_delivered(conn, row, now, interval, covered)
            return True

    def deliveries_for(self, ticket_id: int) -> Sequence[Row]:
        """Return a ticket's deliveries, oldest first."""
        with self.reading() as conn:
            return conn.execute(
                select(deliveries).where(deliveries.c.ticket_id == ticket_id).order_by(deliveries.c.id)
            ).all()

    def claim_webhooks(self, now: float, lease: float, limit: int) -> list[Row]:
        """Lease up to `limit` due webhook calls to this caller."""
        return self._claim(webhooks, now, lease, limit)

    def release_webhook(self, row: Row, due: float, status: int | None = None, error: str = "") -> None:
        """Give a leased webhook call back, to be tried again at `due`."""
        self._release(webhooks, row, due, status, error)

    def unlease_webhooks(self, rows: Sequence[Row]) -> None:
        """Give leased webhook calls back untried."""
        if rows:
            with self.engine.begin() as conn:
                tokens = {row.lease_owner for row in rows}
                where = (webhooks.c.id.in_([row.id for row in rows]), webhooks.c.lease_owner.in_(tokens))
                conn.execute(update(webhooks).where(*where).values(lease_until=0))

    def finish_webhook(self, row: Row, state: str, now: float, status: int | None = None, error: str = "") -> None:
        """Record a webhook call's final outcome."""
        with self.engine.begin() as conn:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.id == row.id, webhooks.c.lease_owner == row.lease_owner)
                .values(state=state, done_at=now, lease_until=0, last_status=status, last_error=error[:300] or None)
            )

    def webhook_calls(self) -> Sequence[Row]:
        """Return every webhook call, oldest first."""
        with self.reading() as conn:
            return conn.execute(select(webhooks).order_by(webhooks.c.id)).all()

    def _claim(self, table: Table, now: float, lease: float, limit: int, *fair) -> list[Row]:
        """Lease due pending rows of an outbox table (deliveries or webhooks).

        `fair`, if given, is (a condition a row's ticket must meet, what to order tickets by first).
        """
        token = str(uuid.uuid4())
        due = (table.c.state == "pending", table.c.due_at <= now, table.c.lease_until <= now, *fair[:1])
        with self.engine.begin() as conn:
            ids = (
                conn.execute(
                    select(table.c.id)
                    .where(*due)
                    .order_by(*fair[1:], table.c.due_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            conn.execute(
                update(table)
                .where(table.c.id.in_(ids), table.c.lease_until <= now)
                .values(lease_owner=token, lease_until=now + lease)
            )
            return conn.execute(select(table).where(table.c.lease_owner == token)).all()

    def _release(self, table: Table, row: Row, due: float, status: int | None, error: str) -> None:
        """Give a leased outbox row back, counting the attempt."""
        with self.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.id == row.id, table.c.lease_owner == row.lease_owner)
                .values(
                    due_at=due,
                    lease_until=0,
                    attempts=table.c.attempts + 1,
                    last_status=status,
                    last_error=error[:300] or None,
                )
            )


def _used_now(key, window: float, now: float):
    """What a budget's current window has used, as a correlated SQL expression (0 when none)."""
    used = select(budgets.c.used).where(budgets.c.key == key, budgets.c.window_start + window > now)
    return func.coalesce(used.correlate(deliveries).scalar_subquery(), 0)
