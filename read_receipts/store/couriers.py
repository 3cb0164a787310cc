"""Couriers' heartbeats: each courier renews a hold on its own key after its rounds, which proves the store takes writes."""

from __future__ import annotations

from sqlalchemy import insert, update

from read_receipts.store.database import Database, insert_ignore
from read_receipts.store.schema import holds

PREFIX = "courier:"


class Couriers(Database):
    """The heartbeat each courier writes to the store."""

    def beat(self, name: str, until: float) -> None:
        """Say that the courier `name` finished a round and counts as alive until `until` (a write: raises if refused)."""
        key = (PREFIX + name)[:64]
        with self.engine.begin() as conn:
            if not insert_ignore(conn, holds, key=key, until=until):
                conn.execute(update(holds).where(holds.c.key == key).values(until=until))

    def check_writes(self) -> None:
        """Write a heartbeat and take it back: raise if the store refuses writes (a read-only file, mount or replica)."""
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                conn.execute(insert(holds).values(key=PREFIX + "start-up write check", until=0))
            finally:
                transaction.rollback()
