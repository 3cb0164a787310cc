"""The stores a bench run can use: a fresh SQLite file, or a fresh database on a PostgreSQL server."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


class SQLiteStore:
    """A SQLite file in the run's directory."""

    name = "sqlite"

    def __init__(self, rundir: Path):
        self.path = rundir / "bench.db"
        self.url = f"sqlite:///{self.path}"

    def counts(self) -> tuple[int, int] | None:
        """Return (opens stored, opens still new), or None before the service made the file."""
        if not self.path.exists():
            return None
        with sqlite3.connect(self.path, timeout=30) as conn:  # WAL: reading never blocks the workers
            total, new = conn.execute("SELECT count(*), coalesce(sum(state = 'new'), 0) FROM opens").fetchone()
        conn.close()
        return total, new

    def drop(self) -> None:
        """Nothing to do: the run's directory goes with the bench's temp dir."""


class PostgreSQLStore:
    """A database made for one run on the server `server_url` names, dropped after it."""

    name = "postgresql"

    def __init__(self, server_url: str):
        server = make_url(server_url).set(drivername="postgresql+psycopg")
        self.database = f"bench_pixel_{uuid.uuid4().hex[:12]}"
        self._admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        self.url = server.set(database=self.database).render_as_string(hide_password=False)
        self._engine = create_engine(self.url)

    def counts(self) -> tuple[int, int] | None:
        """Return (opens stored, opens still new), or None before the service made the tables."""
        with self._engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('opens')")).scalar() is None:
                return None
            row = conn.execute(text("SELECT count(*), count(*) FILTER (WHERE state = 'new') FROM opens")).one()
        return row[0], row[1]

    def drop(self) -> None:
        """Drop the run's database."""
        self._engine.dispose()
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self._admin.dispose()


def make_store(backend: str, rundir: Path) -> SQLiteStore | PostgreSQLStore:
    """A fresh store of the backend: 'sqlite', or a postgresql:// URL naming a server."""
    return SQLiteStore(rundir) if backend == "sqlite" else PostgreSQLStore(backend)
