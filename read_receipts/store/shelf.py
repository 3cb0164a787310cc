"""The hot path's connections: lent to request threads one INSERT at a time, a few at most."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Writes queue for SQLite's one write lock anyway, and PostgreSQL's pool (5 + 5 per
# worker) must keep room for the courier and the dashboard: a handful is enough for
# however many request threads a worker runs.
PIXEL_CONNECTIONS = 4


class Shelf:
    """Raw connections kept open between requests and lent to one thread at a time."""

    def __init__(self, connect: Callable[[], object], limit: int = PIXEL_CONNECTIONS):
        self._connect = connect
        self._idle: list = []
        self._slots = threading.BoundedSemaphore(limit)
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
