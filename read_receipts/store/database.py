"""The store's base: the engine, SQLite's locking, and dialect helpers."""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Self

from sqlalchemy import Float, String, Table, bindparam, create_engine, event, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row

OPEN_COLUMNS = ("ticket_id", "requester_id", "comment_id", "opened_at", "ip", "user_agent", "sent", "signed")
EVENT_COLUMNS = ("kind", "occurred_at", "ip", "user_agent", "meta", "target")


class Database:
    """The engine and the connections every part of the store shares."""

    def __init__(self, source: str | Database):
        """Open the store at a URL, or share the engine of another part of the store."""
        self.engine = source.engine if isinstance(source, Database) else _engine(source)

    def close(self) -> None:
        """Close every connection."""
        self.engine.dispose()

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        with self.reading() as conn:
            conn.execute(text("SELECT 1"))

    def reading(self) -> Connection:
        """Open a connection for reads (on SQLite, without taking the write lock)."""
        return self.engine.connect().execution_options(deferred_begin=True)


class Record:
    """A typed row: a dataclass built from the columns it names (other columns are left out)."""

    @classmethod
    def of(cls, row: Row) -> Self:
        """The record of one row."""
        names, places = _layout(cls, row._fields)
        values = tuple(row)
        return cls(**dict(zip(names, [values[place] for place in places], strict=True)))


@functools.cache
def _layout(record: type, columns: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The fields of a record type a query's columns hold, and where (once per query: triage builds thousands)."""
    names = tuple(field.name for field in fields(record) if field.name in columns)
    return names, tuple(columns.index(name) for name in names)


def dialect(conn: Connection):
    """The SQLAlchemy dialect module whose insert() speaks ON CONFLICT for this connection."""
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def insert_ignore(conn: Connection, table: Table, **values) -> bool:
    """Insert a row unless its key exists; True if it was inserted (both dialects speak ON CONFLICT)."""
    statement = dialect(conn).insert(table).values(**values).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
    return conn.execute(statement.returning(*table.primary_key.columns)).first() is not None


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping]) -> None:
    """Insert rows that all name the same columns, in the caller's transaction.

    On PostgreSQL one statement inserts them all from arrays, a column each (a statement per row costs
    the server and the driver five times as much); SQLite's executemany is a loop in C already.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    names = tuple(rows[0])
    conn.execute(_insert_from_arrays(table, names), _columns(table, rows, names))


def update_rows(conn: Connection, table: Table, key: str, rows: Sequence[Mapping]) -> None:
    """Set columns of rows found by `key` (each row names the key and the same columns), in the caller's transaction.

    On PostgreSQL one UPDATE ... FROM arrays sets them all; elsewhere an executemany.
    """
    if not rows:
        return
    names = tuple(rows[0])
    if conn.dialect.name != "postgresql":
        conn.execute(_update_each(table, key, names), [{f"_{name}": row[name] for name in names} for row in rows])
        return
    conn.execute(_update_from_arrays(table, key, names), _columns(table, rows, names))


def _columns(table: Table, rows: Sequence[Mapping], names: tuple[str, ...]) -> dict[str, list]:
    """The rows as one list a column, bound as `_<column>` (a bind may not be named after a column it sets).

    A whole number in a Float column is made a float: the driver dumps no list of mixed ints and floats.
    """
    return {
        f"_{name}": [_as_float(row[name]) for row in rows]
        if isinstance(table.c[name].type, Float)
        else [row[name] for row in rows]
        for name in names
    }


def _as_float(value):
    """A whole number as a float; anything else as it is (a value the column cannot hold is refused by the store)."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


@functools.cache
def _arrays(table: Table, names: tuple[str, ...]):
    """The rows of one statement's array parameters (one per column, typed as it), as a derived table."""
    # Strings unbounded: a value too long for its column is then refused by the INSERT, as a row alone is, not cut.
    typed = [postgresql.ARRAY(String() if isinstance(c.type, String) else c.type) for c in map(table.c.get, names)]
    arrays = [bindparam(f"_{name}", type_=kind) for name, kind in zip(names, typed, strict=True)]
    return func.unnest(*arrays).table_valued(*names).render_derived(name="given", with_types=False)


@functools.cache
def _insert_from_arrays(table: Table, names: tuple[str, ...]):
    """INSERT ... SELECT FROM unnest(arrays): built once per table and columns."""
    given = _arrays(table, names)
    return insert(table).from_select(names, select(*(given.c[name] for name in names)))


@functools.cache
def _update_from_arrays(table: Table, key: str, names: tuple[str, ...]):
    """UPDATE ... FROM unnest(arrays): built once per table, key and columns."""
    given = _arrays(table, names)
    values = {name: given.c[name] for name in names if name != key}
    return update(table).where(table.c[key] == given.c[key]).values(values)


@functools.cache
def _update_each(table: Table, key: str, names: tuple[str, ...]):
    """UPDATE ... WHERE key = ?, for an executemany."""
    values = {name: bindparam(f"_{name}") for name in names if name != key}
    return update(table).where(table.c[key] == bindparam(f"_{key}")).values(values)


def _engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and immediate write transactions."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        """Set up each new SQLite connection: WAL, and transactions left to us."""
        # Take over transaction control from the driver, so BEGIN IMMEDIATE
        # below is the only BEGIN: workers then queue for the write lock
        # instead of failing with "database is locked" on upgrade.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        _set_wal(cursor)
        # NORMAL in WAL mode survives a killed process; only power loss can
        # lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        """Begin reads deferred and writes immediate."""
        reading = conn.get_execution_options().get("deferred_begin")
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def _set_wal(cursor, patience: float = 30.0) -> None:
    """Switch a new SQLite connection to WAL, waiting while another process holds the file.

    The switch answers "database is locked" at once, without SQLite's busy wait,
    when another process is writing: two masters starting together on a new file.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
