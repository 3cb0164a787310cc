"""The spool: the pixel appends opens and events to segment files on the local disk; the courier drains them.

Each worker process appends to its own live segment, one compact JSON record
per line, with a single os.write on an O_APPEND descriptor: a record is whole
or absent after a kill -9 (the same durability as SQLite's WAL with
synchronous=NORMAL: it survives the process, not a power cut). The writer
holds an flock on its live segment; a segment whose flock can be taken has no
writer any more (rolled over, or its process died) and may be drained by any
courier of the instance, then deleted. The instance's courier process also
reads the live segments of the request workers, a complete line at a time.

A spool belongs to one store (its `.store-id` names it, see claim()), and one
courier drains it at a time (the drain lock): two instances or a USR2 upgrade
on one directory never store a record twice. It holds at most SPOOL_MAX_MB:
past that, and on a full disk, an open is counted as lost and said once a
minute, without a new file per lost open.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".spool"
_NEW = ".new"  # a segment being created: not yet locked, so never listed
SEGMENT_BYTES = 4 * 1024 * 1024  # roll to a new segment past this size ...
SEGMENT_SECONDS = 300.0  # ... or this age, so drained records can be deleted
READ_BYTES = 1024 * 1024  # the most read from a segment at once
LOSS_LOG_SECONDS = 60.0
MAX_BYTES = (
    1024 * 2**20
)  # SPOOL_MAX_MB's default: 1.7 million opens, hours of a busy pixel's opens while the store is away
FULL_MARGIN = 4096  # a spool with less room than this (a few records) is full
SIZE_CHECK_SECONDS = 1.0  # how often a writer measures the whole spool (other processes write to it too)
FULL_CHECK_SECONDS = 0.1  # ... and how often while it looks full
OWNER_NAME = ".store-id"  # the id of the store this spool belongs to
DRAIN_LOCK_NAME = ".drain-lock"  # held by the courier draining the spool: one at a time
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC  # a FIFO or a symlink never blocks a read
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


class Loss(StrEnum):
    """Why a record could not be spooled."""

    FULL = "full"  # the spool holds SPOOL_MAX_MB
    UNWRITABLE = "unwritable"  # the disk is full, or the directory cannot take a file


class SpoolError(RuntimeError):
    """The spool directory cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Backlog:
    """What waits in the spool: bytes not yet stored, the oldest one's age, and whether it is full."""

    bytes: int
    oldest_seconds: float
    max_bytes: int
    full: bool


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

    def __init__(
        self,
        directory: str | Path,
        drain_live: bool = False,
        *,
        max_bytes: int = MAX_BYTES,
        wake=None,
        on_loss: Callable[[], None] | None = None,
    ):
        self.directory = Path(directory)
        self.drain_live = drain_live  # the courier process: read segments other processes still write
        self.max_bytes = max_bytes
        self.wake = wake  # set on each append: the courier's Event, or the doorbell of its process
        self.on_loss = on_loss  # called after a loss is counted, where no courier of this process takes the tally
        self.live = ""  # the name of the segment this process appends to
        self.lost = 0  # records that could not be spooled, not yet added to the store's tally
        self._lock = threading.Lock()  # appends from several request threads stay whole
        self._fd, self._pid, self._size, self._rolls_at = -1, 0, 0, 0.0
        self._next_loss_log, self._last_loss = 0.0, -LOSS_LOG_SECONDS
        self._held, self._written = 0, 0  # the spool's size when last measured, and what this process wrote since
        self._measured = -SIZE_CHECK_SECONDS
        self._skipped: set[str] = set()  # names in the directory that are not segments, said once each

    def append(self, kind: str, values: dict) -> None:
        """Spool one record ('o' an open, 'e' an event); a failure is counted and logged, never raised."""
        values["k"] = kind
        line = (_ENCODE(without_nul(values)) + "\n").encode()
        try:
            with self._lock:
                if self._full(len(line)):
                    self._close()  # sealed, so its file can go once stored: room comes back with the store
                    raise _Refused
                self._write(line)
        except _Refused:
            self._count_loss(Loss.FULL, None)
        except OSError as error:
            self._count_loss(Loss.UNWRITABLE, error)
        if self.wake is not None and not self.wake.is_set():  # a set Event needs no lock taken again
            self.wake.set()

    def _full(self, size: int) -> bool:
        """Whether a record of `size` bytes would take the spool past max_bytes.

        Measured once a second, and sooner once this process alone has written a quarter
        of the room left (the other processes of the instance write to it too), or when it
        looks full (the courier may have deleted stored segments since).
        """
        now = time.monotonic()
        age = now - self._measured
        room = self.max_bytes - self._held
        over = self._held + self._written + size > self.max_bytes
        if age >= SIZE_CHECK_SECONDS or 0 < room <= self._written * 4 or (over and age >= FULL_CHECK_SECONDS):
            self._held, self._written, self._measured = self.held_bytes(), 0, now
        return self._held + self._written + size > self.max_bytes

    def held_bytes(self) -> int:
        """What the spool's segments take on disk now, stored or not."""
        held = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if entry.name.endswith(SUFFIX):
                        try:
                            held += entry.stat(follow_symlinks=False).st_size
                        except OSError:  # drained and deleted meanwhile
                            pass
        except OSError:
            return 0
        return held

    def _write(self, line: bytes) -> None:
        """Write one line to the live segment, rolling to a new one when due (or when its file was removed)."""
        # A small spool gets small segments: stored ones are deleted long before the live ones fill it.
        segment_bytes = min(SEGMENT_BYTES, self.max_bytes // 16)
        if self._fd < 0 or self._pid != os.getpid() or self._size >= segment_bytes or time.monotonic() > self._rolls_at:
            self._roll()
        elif os.fstat(self._fd).st_nlink == 0:  # SPOOL_DIR was removed: what goes on here is never read
            log.error("the live spool segment %s was removed (with SPOOL_DIR?): spooling to a new one", self.live)
            self._roll()
        written = os.write(self._fd, line)
        self._size += written
        self._written += written
        if written != len(line):  # the disk filled mid-record: seal the torn segment, the record is lost
            self._close()
            raise OSError(errno.ENOSPC, "short write")

    def _roll(self) -> None:
        """Seal the live segment and start a new one, locked before it is visible."""
        self._close()
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        creating = self.directory / (name + _NEW)
        self.directory.mkdir(parents=True, exist_ok=True)  # made at start-up; made again if it was removed
        fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(creating, self.directory / (name + SUFFIX))
        except OSError:
            os.close(fd)
            creating.unlink(missing_ok=True)
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

    def _count_loss(self, why: Loss, error: OSError | None) -> None:
        """Count a record that could not be spooled; say so at most once a minute.

        The live segment stays open: a full disk takes its next record once it has room,
        and no new file is made for each record lost meanwhile.
        """
        with self._lock:
            self.lost += 1
            now = self._last_loss = time.monotonic()
            said = now < self._next_loss_log
            if not said:
                self._next_loss_log = now + LOSS_LOG_SECONDS
        if self.on_loss is not None:
            self.on_loss()
        if said:
            return
        if why is Loss.FULL:
            log.error(
                "the spool in %s holds SPOOL_MAX_MB (%d MB) of opens the store has not taken yet: new opens are "
                "being lost and counted until it does; check the store (said at most once a minute)",
                self.directory,
                self.max_bytes // 2**20,
            )
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
            fd = os.open(path, _READ_FLAGS)
        except OSError as error:
            if error.errno == errno.ELOOP:
                self._skip(name, "a symbolic link")
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # checked on what was opened: nothing can swap it after
            os.close(fd)
            self._skip(name, "not a regular file")
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

    def _skip(self, name: str, what: str) -> None:
        """Say once that a name in the spool is not a segment, and leave it."""
        if name not in self._skipped:
            self._skipped.add(name)
            log.warning("spool: %s is %s; skipped (remove it from %s)", name, what, self.directory)

    @contextmanager
    def draining(self) -> Iterator[bool]:
        """Hold the spool's drain lock while the block runs; yields False while another courier holds it."""
        path = self.directory / DRAIN_LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:  # no directory (nothing to drain), or something else in the lock's place
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino  # not a removed lock file
        except OSError:
            held = False
        try:
            yield held
        finally:
            os.close(fd)  # the flock goes with it

    def backlog(self, positions: dict[str, int], now: float) -> Backlog:
        """This instance's bytes not yet stored, the age of the oldest record among them, and whether it is full."""
        pending, held, oldest = 0, 0, None
        for name in self.segment_names():
            try:
                status = os.stat(self.directory / name, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(status.st_mode):
                continue
            held += status.st_size
            start = positions.get(name, 0)
            pending += max(0, status.st_size - start)
            if oldest is None and status.st_size > start:
                oldest = self._stamp_at(name, start)
        age = round(max(0.0, now - oldest), 3) if oldest else 0.0
        return Backlog(
            bytes=pending, oldest_seconds=age, max_bytes=self.max_bytes, full=held + FULL_MARGIN > self.max_bytes
        )

    def _stamp_at(self, name: str, position: int) -> float | None:
        """The time of the record at `position` in a segment."""
        try:
            fd = os.open(self.directory / name, _READ_FLAGS)
        except OSError:
            return None
        try:
            record = _parse(os.pread(fd, READ_BYTES, position).split(b"\n", 1)[0])
        except OSError:
            return None
        finally:
            os.close(fd)
        return (record or {}).get("opened_at") or (record or {}).get("occurred_at")


class _Refused(Exception):
    """The spool is full: the record is not written."""


def without_nul(values: dict) -> dict:
    """Drop NUL characters from a record's text: PostgreSQL's text columns refuse them (SQLite keeps them)."""
    for key, value in values.items():
        if isinstance(value, str) and "\0" in value:
            values[key] = value.replace("\0", "")
    return values


def claim(directory: str | Path, store_id: str) -> None:
    """Make the spool directory belong to the store `store_id`, or raise SpoolError if it belongs to another.

    Two instances on different stores sharing one directory would each store the other's
    opens (and note them twice), the way a Kafka broker must not take another cluster's logs.
    """
    path = Path(directory)
    owner = path / OWNER_NAME
    staged = path / f".store-id-{os.getpid()}{_NEW}"
    try:
        staged.write_text(store_id + "\n")
        try:
            os.link(staged, owner)  # atomic: a directory is claimed once, whole
        except FileExistsError:
            pass
        finally:
            staged.unlink()
        claimed = owner.read_text().strip()
    except OSError as error:
        raise SpoolError(
            f"Cannot claim the spool directory {str(path)!r} (SPOOL_DIR): {error.strerror or error}."
        ) from None
    if claimed != store_id:
        raise SpoolError(
            f"The spool directory {str(path)!r} (SPOOL_DIR) belongs to another store (store id {claimed}; the "
            f"store named by DATABASE_URL is {store_id}): its opens must go to that store, not to this one. "
            "Give this instance a SPOOL_DIR of its own. If this store replaced that one on purpose and the opens "
            f"waiting in the spool may go to it, delete {str(owner)!r} and start again."
        )


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
