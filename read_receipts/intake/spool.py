"""The spool: the pixel appends opens and events to segment files on the local disk; the courier drains them.

Each worker process appends to its own live segment, one compact JSON record
per line, with a single os.write on an O_APPEND descriptor: a record is whole
or absent after a kill -9 (the same durability as SQLite's WAL with
synchronous=NORMAL: it survives the process, not a power cut). The writer
holds an flock on its live segment; a segment whose flock can be taken has no
writer any more (rolled over, or its process died) and may be drained by any
courier of the instance, then deleted. The instance's courier process also
reads the live segments of the request workers, a complete line at a time.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".spool"
_NEW = ".new"  # a segment being created: not yet locked, so never listed
SEGMENT_BYTES = 4 * 1024 * 1024  # roll to a new segment past this size ...
SEGMENT_SECONDS = 300.0  # ... or this age, so drained records can be deleted
READ_BYTES = 1024 * 1024  # the most read from a segment at once
LOSS_LOG_SECONDS = 60.0
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


class SpoolError(RuntimeError):
    """The spool directory cannot be used; the message says what to do."""


@dataclass
class Batch:
    """Complete records read from a segment, and where the next read starts."""

    records: list[dict] = field(default_factory=list)
    end: int = 0
    unreadable: int = 0  # complete lines (or a torn tail) that are not records: skipped, counted


class Segment:
    """A segment opened for draining: the live one of this process, or one no writer holds (locked here)."""

    def __init__(self, path: Path, fd: int, sealed: bool):
        self.path, self.fd, self.sealed = path, fd, sealed
        self.name = path.name

    def read(self, position: int, max_lines: int, limit: int = READ_BYTES) -> Batch:
        """Read up to `max_lines` complete lines after `position`; a partial last line waits for its writer."""
        data = os.pread(self.fd, limit, position)
        batch, offset = Batch(), 0
        while len(batch.records) + batch.unreadable < max_lines:
            newline = data.find(b"\n", offset)
            if newline < 0:
                break
            record = _parse(data[offset:newline])
            if record is None:
                batch.unreadable += 1
            else:
                batch.records.append(record)
            offset = newline + 1
        batch.end = position + offset
        torn = offset < len(data) < limit and data.find(b"\n", offset) < 0
        if self.sealed and torn:  # a record cut short by a full disk: nobody will finish it
            batch.unreadable += 1
            batch.end = position + len(data)
        return batch

    def size(self) -> int:
        """The segment's length now."""
        return os.fstat(self.fd).st_size

    def close(self, delete: bool = False) -> None:
        """Release the segment, deleting it first when it is fully stored."""
        if delete:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)


def _parse(line: bytes) -> dict | None:
    """One record, or None for a line that is not one."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("k") in ("o", "e") else None


class Spool:
    """This process's live segment, and the segments in the spool directory."""

    def __init__(self, directory: str | Path, drain_live: bool = False, wake=None, on_loss=None):
        self.directory = Path(directory)
        self.drain_live = drain_live  # the courier process: read segments other processes still write
        self.wake = wake  # set on each append: the courier's Event, or the doorbell of its process
        self.live = ""  # the name of the segment this process appends to
        self.lost = 0  # records that could not be spooled, not yet added to the store's tally
        self.on_loss = on_loss  # called after a loss is counted, where no courier of this process takes the tally
        self._lock = threading.Lock()  # appends from several request threads stay whole
        self._fd, self._pid, self._size, self._rolls_at = -1, 0, 0, 0.0
        self._next_loss_log, self._last_loss = 0.0, -LOSS_LOG_SECONDS

    def append(self, kind: str, values: dict) -> None:
        """Spool one record ('o' an open, 'e' an event); a failure is counted and logged, never raised."""
        values["k"] = kind
        line = (_ENCODE(values) + "\n").encode()
        try:
            with self._lock:
                self._write(line)
        except OSError as error:
            self._count_loss(error)
        if self.wake is not None and not self.wake.is_set():  # a set Event needs no lock taken again
            self.wake.set()

    def _write(self, line: bytes) -> None:
        """Write one line to the live segment, rolling to a new one when due."""
        if self._fd < 0 or self._pid != os.getpid() or self._size >= SEGMENT_BYTES or time.monotonic() > self._rolls_at:
            self._roll()
        written = os.write(self._fd, line)
        self._size += written
        if written != len(line):  # the disk filled mid-record: seal the torn segment, the record is lost
            self._close()
            raise OSError(errno.ENOSPC, "short write")

    def _roll(self) -> None:
        """Seal the live segment and start a new one, locked before it is visible."""
        self._close()
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        creating = self.directory / (name + _NEW)
        self.directory.mkdir(parents=True, exist_ok=True)  # made at start-up; made again if it was removed
        fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(creating, self.directory / (name + SUFFIX))
        except OSError:
            os.close(fd)
            raise
        self._fd, self._pid, self._size = fd, os.getpid(), 0
        self._rolls_at = time.monotonic() + SEGMENT_SECONDS
        self.live = name + SUFFIX

    def _close(self) -> None:
        """Close the live segment (its flock goes with it: it is sealed now)."""
        self.live = ""
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1

    def close(self) -> None:
        """Seal the live segment, for a process that stops appending."""
        with self._lock:
            self._close()

    def _count_loss(self, error: OSError) -> None:
        """Count a record that could not be spooled; say so at most once a minute."""
        with self._lock:
            self.lost += 1
            self._last_loss = time.monotonic()
            self._close()  # try a fresh segment next time: the disk may have room again
            now = time.monotonic()
            said = now < self._next_loss_log
            if not said:
                self._next_loss_log = now + LOSS_LOG_SECONDS
        if self.on_loss is not None:
            self.on_loss()
        if said:
            return
        log.error(
            "could not write to the spool in %s (%s): opens are being lost; check that the directory exists, "
            "is writable and its disk has room (said at most once a minute)",
            self.directory,
            error.strerror or error,
        )

    def writable(self) -> bool:
        """Whether the spool takes records: its directory is there and writable, and no append failed this minute."""
        recent_loss = time.monotonic() - self._last_loss < LOSS_LOG_SECONDS
        return not recent_loss and self.directory.is_dir() and os.access(self.directory, os.W_OK)

    def take_lost(self) -> int:
        """Return and reset the count of records lost since the last call."""
        with self._lock:
            lost, self.lost = self.lost, 0
            return lost

    def put_back_lost(self, lost: int) -> None:
        """Count again losses the store could not record."""
        with self._lock:
            self.lost += lost

    def segment_names(self) -> list[str]:
        """The segments in the directory, oldest first; none when it cannot be listed."""
        try:
            return sorted(name for name in os.listdir(self.directory) if name.endswith(SUFFIX))
        except OSError:
            return []

    def open_segment(self, name: str) -> Segment | None:
        """Open a segment to drain; None once it is gone, or while another process holds it (unless drain_live)."""
        path = self.directory / name
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        if name == self.live and self._pid == os.getpid():
            return Segment(path, fd, sealed=False)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if self.drain_live:  # its writer still holds it: complete lines only, and it stays
                return Segment(path, fd, sealed=False)
            os.close(fd)
            return None
        return Segment(path, fd, sealed=True)

    def backlog(self, positions: dict[str, int], now: float) -> dict:
        """This instance's bytes not yet stored, and the age of the oldest record among them."""
        pending, oldest = 0, None
        for name in self.segment_names():
            try:
                size = (self.directory / name).stat().st_size
            except OSError:
                continue
            start = positions.get(name, 0)
            pending += max(0, size - start)
            if oldest is None and size > start:
                oldest = self._stamp_at(name, start)
        return {"bytes": pending, "oldest_seconds": round(max(0.0, now - oldest), 3) if oldest else 0.0}

    def _stamp_at(self, name: str, position: int) -> float | None:
        """The time of the record at `position` in a segment."""
        try:
            with open(self.directory / name, "rb") as segment:
                segment.seek(position)
                record = _parse(segment.readline())
        except OSError:
            return None
        return (record or {}).get("opened_at") or (record or {}).get("occurred_at")


def prepare(directory: str | Path) -> Path:
    """Create the spool directory if needed and check that it takes a file, or raise SpoolError."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}{_NEW}"
        with open(probe, "wb") as written:
            written.write(b"x")
        probe.unlink()
    except OSError as error:
        raise SpoolError(
            f"Cannot use the spool directory {str(path)!r} named by SPOOL_DIR ({error.strerror or error}). "
            "Point SPOOL_DIR at a writable directory on the instance's own disk."
        ) from None
    return path
