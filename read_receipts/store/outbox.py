"""An outbox: a table of work due at a time, leased to one worker, retried, and finished once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from sqlalchemy import Table, select, update

from read_receipts.store.database import Database, Record

PENDING = "pending"  # the state every outbox row waits in


@dataclass(frozen=True)
class OutboxRow(Record):
    """What every outbox row has: its time, state, tries, lease and last outcome."""

    id: int
    created_at: float
    due_at: float
    state: str
    attempts: int
    lease_until: float
    lease_owner: str | None
    last_status: int | None
    last_error: str | None
    done_at: float | None


R = TypeVar("R", bound=OutboxRow)


class Outbox(Database, Generic[R]):
    """The leases of one outbox table (deliveries or webhook calls): claims and releases."""

    table: ClassVar[Table]
    record: ClassVar[type]

    def release(self, row: R, due: float, status: int | None = None, error: str = "") -> None:
        """Give a leased row back, to be tried again at `due`, counting the attempt."""
        with self.engine.begin() as conn:
            conn.execute(
                update(self.table)
                .where(self.table.c.id == row.id, self.table.c.lease_owner == row.lease_owner)
                .values(
                    due_at=due,
                    lease_until=0,
                    attempts=self.table.c.attempts + 1,
                    last_status=status,
                    last_error=error[:300] or None,
                )
            )

    def _claim(self, now: float, lease: float, limit: int, *fair) -> list[R]:
        """Lease due pending rows to this caller.

        `fair`, if given, is (a condition a row's ticket must meet, what to order tickets by first).
        """
        table = self.table
        token = str(uuid.uuid4())
        due = (table.c.state == PENDING, table.c.due_at <= now, table.c.lease_until <= now, *fair[:1])
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
            return [self.record.of(row) for row in conn.execute(select(table).where(table.c.lease_owner == token))]
