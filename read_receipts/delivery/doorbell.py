"""The courier's doorbell: a FIFO in the spool directory that request workers ring when they spool a record.

The courier runs in a process of its own (see sidecar.py); a ring wakes it at
once, so it needs no fast poll of the disk. A ring is one non-blocking write
of one byte: it never waits, and it fails quietly while no courier listens
(the courier drains everything spooled meanwhile when it starts).

Both sides check, on what they opened, that it is a FIFO: a regular file put in
its place is never written to, and the courier then looks for new opens every
second. A doorbell removed with SPOOL_DIR is made again by the courier.
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
DEAF_POLL_SECONDS = 1.0  # the longest wait while the doorbell cannot be rung: the courier looks this often
_CHUNK = 4096
_FLAGS = os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class NotAFifo(OSError):
    """Something other than a FIFO is where the doorbell should be."""


def bell_path(directory: str | Path) -> Path:
    """Where an instance's doorbell lives."""
    return Path(directory) / BELL_NAME


class Doorbell:
    """The courier's side: waits for rings, like a threading.Event that other processes can set."""

    def __init__(self, directory: str | Path):
        self.path = bell_path(directory)
        _make_fifo(self.path)
        self._fd = _listen(self.path)
        self._rung = False
        self._deaf_said = False
        self._swap = threading.Lock()  # set() from another thread never writes to a descriptor being replaced

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until rung (a ring before this call counts); True if it was."""
        if not self._rung:
            if self._deaf():  # nobody can ring: wait no longer than the courier's fastest poll
                timeout = DEAF_POLL_SECONDS if timeout is None else min(timeout, DEAF_POLL_SECONDS)
            readable, _, _ = select.select([self._fd], [], [], timeout)
            self._rung = bool(readable)
        return self._rung

    def _deaf(self) -> bool:
        """Whether the FIFO this courier listens on was removed and cannot be made again (it is, where it can)."""
        if os.fstat(self._fd).st_nlink > 0:
            return False
        try:
            os.mkfifo(self.path, 0o600)  # never in place of something else someone put there
        except FileExistsError:
            pass
        except OSError:
            return self._say_deaf("its directory is gone")
        try:
            fd = _listen(self.path)
        except OSError as error:
            return self._say_deaf(str(error.strerror or error))
        with self._swap:
            os.close(self._fd)
            self._fd, self._deaf_said = fd, False
        log.warning("the courier's doorbell %s was removed; made it again", self.path)
        return False

    def _say_deaf(self, why: str) -> bool:
        """Say once that the doorbell cannot be rung; True."""
        if not self._deaf_said:
            self._deaf_said = True
            log.warning(
                "the courier's doorbell %s was removed and cannot be made again (%s): "
                "the courier looks for new opens every second",
                self.path,
                why,
            )
        return True

    def is_set(self) -> bool:
        """Whether a ring is waiting."""
        return self.wait(0)

    def set(self) -> None:
        """Ring from this process (to stop the courier, or to ask for a round at once)."""
        with self._swap:
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
        self._misplaced_said = False
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
            fd = os.open(self.path, os.O_WRONLY | _FLAGS)
        except OSError:  # ENXIO: no courier has it open; ENOENT: none made it yet
            self._fd = -1
            return False
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):  # checked on what was opened: a ring never lands in a file
            os.close(fd)
            self._fd = -1
            if not self._misplaced_said:
                self._misplaced_said = True
                log.warning(
                    "%s is not a FIFO: not ringing it (the courier looks for new opens every second)", self.path
                )
            return False
        self._fd, self._pid = fd, os.getpid()
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


def _listen(path: Path) -> int:
    """Open the FIFO for reading, or raise NotAFifo when something else is there."""
    # Read and write: the FIFO then always has a writer (no end-of-file while no worker rings),
    # and set() can ring it from this process too.
    fd = os.open(path, os.O_RDWR | _FLAGS)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotAFifo(errno.EEXIST, "not a FIFO", str(path))
    return fd


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
