"""The hot path's connections: lent to request threads one INSERT at a time, a few at most."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# SQLite has one write lock: request threads queue for it here, on a Python lock,
# rather than polling the file. PostgreSQL's pool (5 + 5 per worker) must keep room
# for the courier and the dashboard: a handful is enough for any number of threads.
PIXEL_CONNECTIONS = {"sqlite": 1, "postgresql": 4}


class Shelf:
    """Raw connections kept open between requests and lent to one thread at a time."""

    def __init__(self, connect: Callable[[], object], dialect: str):
        self._connect = connect
        self._idle: list = []
        self._slots = threading.BoundedSemaphore(PIXEL_CONNECTIONS.get(dialect, 1))
        self.every: list = []  # every connection made, for close()

    @contextmanager
    def lend(self) -> Iterator:
        """Lend a connection; one that failed is invalidated, never lent again."""
        with self._slots:
            conn = self._idle.pop() if self._idle else self._new()
            try:
                yield conn
            except BaseException:
                self.every.remove(conn)
                conn.invalidate()
                raise
            self._idle.append(conn)

    def _new(self):
        """Make a connection and remember it."""
        conn = self._connect()
        self.every.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection made."""
        for conn in self.every:
            conn.close()
        self.every.clear()
        self._idle.clear()
