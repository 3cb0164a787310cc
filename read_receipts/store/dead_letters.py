"""Dead letters: rows the courier failed on, set aside with their error so the rest of the work goes on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Row

from read_receipts.store.database import Database
from read_receipts.store.schema import deliveries, events, opens, webhooks

# Each kind of work: its table, the state it waits in, and the column that keeps its error.
DEAD_KINDS: dict[str, tuple[Table, str, str]] = {
    "opens": (opens, "new", "error"),
    "events": (events, "new", "error"),
    "deliveries": (deliveries, "pending", "last_error"),
    "webhooks": (webhooks, "pending", "last_error"),
}
DEAD = "dead"


class DeadLetterStore(Database):
    """Setting aside, listing, retrying and deleting the rows the courier failed on."""

    def set_aside(self, kind: str, row_id: int, error: str) -> bool:
        """Move one waiting row to `dead` with its error; False if it was not waiting any more."""
        table, waiting, error_column = DEAD_KINDS[kind]
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(table)
                .where(table.c.id == row_id, table.c.state == waiting)
                .values({"state": DEAD, error_column: error[:300]})
            )
            return moved.rowcount == 1

    def dead_letters(self, kind: str | None = None, limit: int = 100) -> list[tuple[str, Row]]:
        """Return dead rows as (kind, row), oldest first within each kind."""
        found = []
        with self.reading() as conn:
            for name, (table, _, _) in DEAD_KINDS.items():
                if kind in (None, name):
                    query = select(table).where(table.c.state == DEAD).order_by(table.c.id).limit(limit)
                    found += [(name, row) for row in conn.execute(query)]
        return found

    def dead_counts(self) -> dict[str, int]:
        """Count the dead rows of each kind."""
        with self.reading() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(table).where(table.c.state == DEAD)).scalar_one()
                for name, (table, _, _) in DEAD_KINDS.items()
            }

    def retry_dead(self, kind: str, ids: Sequence[int] | None, now: float) -> int:
        """Put dead rows back to wait for the courier (all of a kind when `ids` is None); return how many."""
        table, waiting, _ = DEAD_KINDS[kind]
        values = {"state": waiting}
        if "due_at" in table.c:  # an outbox row: due now, with fresh tries
            values |= {"due_at": now, "attempts": 0, "lease_until": 0}
        with self.engine.begin() as conn:
            return conn.execute(update(table).where(*_chosen(table, ids)).values(values)).rowcount

    def delete_dead(self, kind: str, ids: Sequence[int] | None) -> int:
        """Delete dead rows (all of a kind when `ids` is None); return how many."""
        table = DEAD_KINDS[kind][0]
        with self.engine.begin() as conn:
            return conn.execute(table.delete().where(*_chosen(table, ids))).rowcount


def _chosen(table: Table, ids: Sequence[int] | None) -> tuple:
    """The where clause of the dead rows named (or of all of them)."""
    dead = table.c.state == DEAD
    return (dead,) if ids is None else (dead, table.c.id.in_(list(ids)))
