"""Counts kept as work happens, in the caller's transaction: tallies, and the daily and campaign rollups."""

from __future__ import annotations

import time

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from read_receipts.store.database import dialect
from read_receipts.store.schema import tallies


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
