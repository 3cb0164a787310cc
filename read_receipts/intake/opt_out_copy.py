"""The instance's copy of the opt-out list: a file in the spool directory, one entry a line.

A line is a requester id, or `r:` and the SHA-256 of a tracking link's `recipient`
(the copy holds no address). Read by the pixel, the link recorder and the courier
without a database; written by OptOuts (store/opt_outs.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

COPY_NAME = "opt-outs.txt"
PIXEL_LOOK_SECONDS = 1.0  # how often the pixel looks whether the copy changed
RECIPIENT_MAX = 320  # the longest email address
_ZENDESK_ID = re.compile(r"[1-9][0-9]{0,17}")


def recipient_key(recipient: str) -> str:
    """How the copy names a recipient."""
    return "r:" + hashlib.sha256(recipient.encode()).hexdigest()


def recipient_of(meta: dict) -> str | None:
    """The `recipient` a tracking link's metadata names; None when it names none."""
    recipient = meta.get("recipient")
    if isinstance(recipient, bool) or not isinstance(recipient, str | int) or str(recipient).strip() == "":
        return None
    return str(recipient).strip()[:RECIPIENT_MAX]


def requester_of(meta: dict) -> int | None:
    """The Zendesk requester a tracking link's metadata names, if any."""
    raw = str(meta.get("requester_id", ""))
    return int(raw) if _ZENDESK_ID.fullmatch(raw) else None


class OptOutCopy:
    """The instance's copy of the list, re-read whenever the file changes."""

    def __init__(self, directory: str | Path, look_every: float = 0.0):
        self.path = Path(directory) / COPY_NAME
        self.look_every = look_every  # 0: look at the file on every lookup
        self._entries: frozenset[str] = frozenset()
        self._stamp: tuple | None = None
        self._next_look = 0.0

    def covers(self, requester_id: int | None) -> bool:
        """Whether the copy lists this requester."""
        return requester_id is not None and str(requester_id) in self._current()

    def covers_link(self, meta: dict) -> bool:
        """Whether a tracking link's metadata names a requester or a recipient the copy lists."""
        recipient = recipient_of(meta)
        return self.covers(requester_of(meta)) or (
            recipient is not None and recipient_key(recipient) in self._current()
        )

    @contextmanager
    def looking_once(self) -> Iterator[None]:
        """Within the block, look at the file on the first lookup only (a batch of loads read at once needs one look)."""
        every, self.look_every, self._next_look = self.look_every, float("inf"), 0.0
        try:
            yield
        finally:
            self.look_every, self._next_look = every, 0.0

    def _current(self) -> frozenset[str]:
        """The entries, read again when the file may have changed."""
        if self.look_every == 0.0 or time.monotonic() >= self._next_look:
            self._next_look = time.monotonic() + self.look_every
            self._reload_if_changed()
        return self._entries

    def _reload_if_changed(self) -> None:
        """Read the file again if it was replaced since the last read."""
        try:
            found = os.stat(self.path)
        except OSError:
            self._entries, self._stamp = frozenset(), None
            return
        # Every write replaces the file: a new inode, mtime or size says it changed.
        stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
        if stamp == self._stamp:
            return
        try:
            text = self.path.read_text()
        except OSError:
            return
        self._entries = frozenset(text.split())
        self._stamp = stamp
