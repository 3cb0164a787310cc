"""The courier's doorbell: a FIFO in the spool directory that request workers ring when they spool a record.

The courier runs in a process of its own (see sidecar.py); a ring wakes it at
once, so it needs no fast poll of the disk. A ring is one non-blocking write
of one byte: it never waits, and it fails quietly while no courier listens
(the courier drains everything spooled meanwhile when it starts).
"""

from __future__ import annotations

import errno
import logging
import os
import select
import stat
import threading
from pathlib import Path

log = logging.getLogger(__name__)

BELL_NAME = ".courier-bell"
_CHUNK = 4096


def bell_path(directory: str | Path) -> Path:
    """Where an instance's doorbell lives."""
    return Path(directory) / BELL_NAME


class Doorbell:
    """The courier's side: waits for rings, like a threading.Event that other processes can set."""

    def __init__(self, directory: str | Path):
        path = bell_path(directory)
        _make_fifo(path)
        # Read and write: the FIFO then always has a writer (no end-of-file while no worker rings),
        # and set() can ring it from this process too.
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        self._rung = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until rung (a ring before this call counts); True if it was."""
        if not self._rung:
            readable, _, _ = select.select([self._fd], [], [], timeout)
            self._rung = bool(readable)
        return self._rung

    def is_set(self) -> bool:
        """Whether a ring is waiting."""
        return self.wait(0)

    def set(self) -> None:
        """Ring from this process (to stop the courier, or to ask for a round at once)."""
        _write_byte(self._fd)

    def clear(self) -> None:
        """Take every ring so far: a ring after this wakes the next wait."""
        self._rung = False
        try:
            while os.read(self._fd, _CHUNK):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Stop listening."""
        os.close(self._fd)


class Ringer:
    """A request worker's side: rings the courier's doorbell, never waits, never raises."""

    def __init__(self, directory: str | Path):
        self.path = bell_path(directory)
        self._fd, self._pid = -1, 0
        # Request threads ring at once: one of them must not close the descriptor another is writing
        # to, or the number could be reused by a client's socket or a spool segment before the write.
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        """A ring from here cannot be seen set: every ring is sent."""
        return False

    def set(self) -> None:
        """Ring the doorbell once."""
        with self._lock:
            if self._fd < 0 or self._pid != os.getpid():
                if not self._open():
                    return
            try:
                _write_byte(self._fd)
            except OSError:  # the courier went away (EPIPE): reach the next one later
                self._forget()

    def _open(self) -> bool:
        """Open the FIFO for writing; False while no courier listens.

        Tried again on every ring (one failing open, a few microseconds): a record spooled
        after the courier came back must wake it, or it would wait for the courier's poll.
        """
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # ENXIO: no courier has it open; ENOENT: none made it yet
            self._fd = -1
            return False
        self._pid = os.getpid()
        return True

    def _forget(self) -> None:
        """Close the FIFO after a failed ring."""
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1


def _write_byte(fd: int) -> None:
    """Write one byte; a full FIFO already holds a ring, so it counts as rung."""
    try:
        os.write(fd, b"!")
    except BlockingIOError:
        pass
    except OSError as error:
        if error.errno != errno.EAGAIN:
            raise


def _make_fifo(path: Path) -> None:
    """Make the FIFO, replacing anything else of that name."""
    try:
        if stat.S_ISFIFO(os.lstat(path).st_mode):
            return
        path.unlink()
    except FileNotFoundError:
        pass
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:  # another courier made it first
        pass
