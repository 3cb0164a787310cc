"""The instance's copy of the opt-out list: a file in the spool directory, one requester id a line.

Read by the pixel and the courier without a database; written by OptOuts (store/opt_outs.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

COPY_NAME = "opt-outs.txt"
PIXEL_LOOK_SECONDS = 1.0  # how often the pixel looks whether the copy changed


class OptOutCopy:
    """The instance's copy of the list, re-read whenever the file changes."""

    def __init__(self, directory: str | Path, look_every: float = 0.0):
        self.path = Path(directory) / COPY_NAME
        self.look_every = look_every  # 0: look at the file on every lookup
        self._ids: frozenset[int] = frozenset()
        self._stamp: tuple | None = None
        self._next_look = 0.0

    def covers(self, requester_id: int | None) -> bool:
        """Whether the copy lists this requester."""
        if requester_id is None:
            return False
        if self.look_every == 0.0 or time.monotonic() >= self._next_look:
            self._next_look = time.monotonic() + self.look_every
            self._reload_if_changed()
        return requester_id in self._ids

    def _reload_if_changed(self) -> None:
        """Read the file again if it was replaced since the last read."""
        try:
            found = os.stat(self.path)
        except OSError:
            self._ids, self._stamp = frozenset(), None
            return
        # Every write replaces the file: a new inode, mtime or size says it changed.
        stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
        if stamp == self._stamp:
            return
        try:
            text = self.path.read_text()
        except OSError:
            return
        self._ids = frozenset(int(line) for line in text.split() if line.isdigit())
        self._stamp = stamp
