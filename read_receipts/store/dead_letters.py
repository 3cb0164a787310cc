"""Dead letters: rows the courier failed on, set aside with their error so the rest of the work goes on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, func, select, update

from read_receipts.store.database import Database, Record
from read_receipts.store.deliveries import Delivery, DeliveryState
from read_receipts.store.events import Event, EventState
from read_receipts.store.opens import Open, OpenState
from read_receipts.store.schema import deliveries, events, opens, ticket_updates, webhooks
from read_receipts.store.ticket_updates import TicketUpdate, TicketUpdateState
from read_receipts.store.webhook_calls import WebhookCall, WebhookState


@dataclass(frozen=True)
class DeadKind:
    """One kind of work that can be set aside: its table and record, the states it moves between, its error column."""

    table: Table
    record: type[Record]
    waiting: str  # the state it waits in, and goes back to when retried
    dead: str
    error_column: str


# The states named here are each queue's own (its module's enum): the moves in and out of `dead`.
DEAD_KINDS: dict[str, DeadKind] = {
    "opens": DeadKind(opens, Open, OpenState.NEW, OpenState.DEAD, "error"),
    "events": DeadKind(events, Event, EventState.NEW, EventState.DEAD, "error"),
    "deliveries": DeadKind(deliveries, Delivery, DeliveryState.PENDING, DeliveryState.DEAD, "last_error"),
    "webhooks": DeadKind(webhooks, WebhookCall, WebhookState.PENDING, WebhookState.DEAD, "last_error"),
    "ticket_updates": DeadKind(
        ticket_updates, TicketUpdate, TicketUpdateState.PENDING, TicketUpdateState.DEAD, "last_error"
    ),
}


class DeadLetters(Database):
    """Setting aside, listing, retrying and deleting the rows the courier failed on."""

    def set_aside(self, kind: str, row_id: int, error: str) -> bool:
        """Move one waiting row to `dead` with its error; False if it was not waiting any more."""
        dead = DEAD_KINDS[kind]
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(dead.table)
                .where(dead.table.c.id == row_id, dead.table.c.state == dead.waiting)
                .values({"state": dead.dead, dead.error_column: error[:300]})
            )
            return moved.rowcount == 1

    def listing(self, kind: str | None = None, limit: int = 100) -> list[tuple[str, Record]]:
        """Return dead rows as (kind, record), oldest first within each kind."""
        found = []
        with self.reading() as conn:
            for name, dead in DEAD_KINDS.items():
                if kind in (None, name):
                    table = dead.table
                    query = select(table).where(table.c.state == dead.dead).order_by(table.c.id).limit(limit)
                    found += [(name, dead.record.of(row)) for row in conn.execute(query)]
        return found

    def counts(self) -> dict[str, int]:
        """Count the dead rows of each kind."""
        with self.reading() as conn:
            return {
                name: conn.execute(
                    select(func.count()).select_from(dead.table).where(dead.table.c.state == dead.dead)
                ).scalar_one()
                for name, dead in DEAD_KINDS.items()
            }

    def retry(self, kind: str, ids: Sequence[int] | None, now: float) -> int:
        """Put dead rows back to wait for the courier (all of a kind when `ids` is None); return how many."""
        dead = DEAD_KINDS[kind]
        values = {"state": dead.waiting}
        if "due_at" in dead.table.c:  # an outbox row: due now, with fresh tries
            values |= {"due_at": now, "attempts": 0, "lease_until": 0}
        with self.engine.begin() as conn:
            return conn.execute(update(dead.table).where(*_chosen(dead, ids)).values(values)).rowcount

    def delete(self, kind: str, ids: Sequence[int] | None) -> int:
        """Delete dead rows (all of a kind when `ids` is None); return how many."""
        dead = DEAD_KINDS[kind]
        with self.engine.begin() as conn:
            return conn.execute(dead.table.delete().where(*_chosen(dead, ids))).rowcount


def _chosen(dead: DeadKind, ids: Sequence[int] | None) -> tuple:
    """The where clause of the dead rows named (or of all of them)."""
    is_dead = dead.table.c.state == dead.dead
    return (is_dead,) if ids is None else (is_dead, dead.table.c.id.in_(list(ids)))
