"""The store's base: the engine, SQLite's locking, and dialect helpers."""

from __future__ import annotations

import functools
import sqlite3
import time
from dataclasses import fields
from typing import Self

from sqlalchemy import Table, create_engine, event, text
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
        mapping = row._mapping
        return cls(**{name: mapping[name] for name in _field_names(cls) if name in mapping})


@functools.cache
def _field_names(record: type) -> tuple[str, ...]:
    """The fields of a record type (looked up once: triage builds thousands of records a round)."""
    return tuple(field.name for field in fields(record))


def dialect(conn: Connection):
    """The SQLAlchemy dialect module whose insert() speaks ON CONFLICT for this connection."""
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def insert_ignore(conn: Connection, table: Table, **values) -> bool:
    """Insert a row unless its key exists; True if it was inserted (both dialects speak ON CONFLICT)."""
    statement = dialect(conn).insert(table).values(**values).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
    return conn.execute(statement.returning(*table.primary_key.columns)).first() is not None


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
