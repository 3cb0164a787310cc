"""Holds: a key taken until a time, by one worker of any instance (a lease), or to pause calls of one kind."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Connection

from read_receipts.store.database import insert_ignore
from read_receipts.store.schema import holds


def take_hold(conn: Connection, key: str, now: float, lease: float) -> bool:
    """Take a key for `lease` seconds, unless another holder's time has not run out."""
    if insert_ignore(conn, holds, key=key, until=now + lease):
        return True
    taken = conn.execute(update(holds).where(holds.c.key == key, holds.c.until <= now).values(until=now + lease))
    return taken.rowcount == 1


def end_hold(conn: Connection, key: str, until: float) -> None:
    """Give a key back early (its holder is done), if it is still held until `until`."""
    conn.execute(update(holds).where(holds.c.key == key, holds.c.until == until).values(until=0))
