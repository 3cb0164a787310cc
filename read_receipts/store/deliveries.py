"""Note deliveries: the queue of private notes to post, their leases, retries and final outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import String, and_, cast, func, literal, select, update
from sqlalchemy.engine import Connection

from read_receipts.store.database import insert_rows
from read_receipts.store.outbox import PENDING as WAITING
from read_receipts.store.outbox import Outbox, OutboxRow
from read_receipts.store.replies import Covered, NoteDue, note_delivered
from read_receipts.store.rollups import add_tallies
from read_receipts.store.schema import budgets, deliveries, tickets


class DeliveryState(StrEnum):
    """Where a note delivery is: waiting, or how it ended."""

    PENDING = WAITING  # as every outbox row waits
    DONE = "done"  # posted
    LOGGED = "logged"  # a dry run logged it
    FAILED = "failed"  # Zendesk refused it for good, or its ticket is closed or deleted
    SKIPPED = "skipped"  # nothing was left to say
    DEAD = "dead"  # our own code failed on it: see last_error


@dataclass(frozen=True)
class Delivery(OutboxRow):
    """One queued note."""

    ticket_id: int
    reply_key: int
    kind: str  # a NoteKind
    open_id: int | None
    body: str | None  # the words of the last try, kept before the call (None: never tried)
    covered: int | None  # the opens those words cover

    @property
    def outcome_unknown(self) -> bool:
        """Whether a try may have reached Zendesk unrecorded (killed mid-call, or no answer): look before posting."""
        return self.body is not None


class Deliveries(Outbox[Delivery]):
    """Claims, releases and outcomes of queued notes."""

    table = deliveries
    record = Delivery

    def claim(self, now: float, lease: float, limit: int, shares: tuple[int, int] | None = None) -> list[Delivery]:
        """Lease up to `limit` due notes to this caller, fairly across tickets and requesters.

        With `shares` (the notes a ticket may get per 10 minutes, and a requester
        per minute), tickets and requesters whose window is used up are skipped,
        and those with the fewest notes in their window go first: one busy ticket
        or requester never holds up the others.
        """
        if shares is None:
            return self._claim(now, lease, limit)
        per_ticket, per_requester = shares
        requester = select(tickets.c.requester_id).where(tickets.c.ticket_id == deliveries.c.ticket_id)
        ticket_used = _used_now(literal("ticket:") + cast(deliveries.c.ticket_id, String), 600, now)
        requester_key = literal("requester:") + cast(requester.correlate(deliveries).scalar_subquery(), String)
        requester_used = _used_now(requester_key, 60, now)
        fair = and_(ticket_used < per_ticket, requester_used < per_requester)
        return self._claim(now, lease, limit, fair, requester_used, ticket_used)

    def postpone(self, delivery: Delivery, due: float) -> None:
        """Give a leased note back untried, to be looked at again at `due` (a budget frees then)."""
        with self.engine.begin() as conn:
            where = (deliveries.c.id == delivery.id, deliveries.c.lease_owner == delivery.lease_owner)
            conn.execute(update(deliveries).where(*where).values(due_at=due, lease_until=0))

    def record_try(self, delivery: Delivery, body: str, covered: int) -> None:
        """Keep the words about to be posted, before the call: a try that ends unrecorded can be looked for."""
        with self.engine.begin() as conn:
            where = (deliveries.c.id == delivery.id, deliveries.c.lease_owner == delivery.lease_owner)
            conn.execute(update(deliveries).where(*where).values(body=body, covered=covered))

    def finish(
        self,
        delivery: Delivery,
        state: DeliveryState,
        now: float,
        interval: float,
        covered: Covered,
        status: int | None = None,
        error: str = "",
    ) -> bool:
        """Record a note's final outcome and move its reply's counters on (queueing its next summary)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery.id,
                    deliveries.c.lease_owner == delivery.lease_owner,
                    deliveries.c.state == DeliveryState.PENDING,
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
            kind, ticket_id, reply_key = delivery.kind, delivery.ticket_id, delivery.reply_key
            following = note_delivered(conn, ticket_id, reply_key, kind, now, interval, covered)
            queue_notes(conn, [following] if following else [], now)
            return True

    def for_ticket(self, ticket_id: int) -> list[Delivery]:
        """Return a ticket's notes, oldest first."""
        with self.reading() as conn:
            query = select(deliveries).where(deliveries.c.ticket_id == ticket_id).order_by(deliveries.c.id)
            return [Delivery.of(row) for row in conn.execute(query)]


def queue_notes(conn: Connection, notes: Sequence[NoteDue], now: float) -> None:
    """Add notes to the queue, pending, in the caller's transaction."""
    if notes:
        rows = [
            {
                "ticket_id": note.ticket_id,
                "reply_key": note.reply_key,
                "kind": note.kind,
                "open_id": note.open_id,
                "created_at": now,
                "due_at": note.due_at,
                "state": DeliveryState.PENDING,
            }
            for note in notes
        ]
        insert_rows(conn, deliveries, rows)


def retry_failed_now(conn: Connection, now: float) -> None:
    """Make every pending note that waits after a failed try due now."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.state == DeliveryState.PENDING, deliveries.c.attempts > 0, deliveries.c.due_at > now)
        .values(due_at=now)
    )


def _used_now(key, window: float, now: float):
    """What a budget's current window has used, as a correlated SQL expression (0 when none)."""
    used = select(budgets.c.used).where(budgets.c.key == key, budgets.c.window_start + window > now)
    return func.coalesce(used.correlate(deliveries).scalar_subquery(), 0)
