"""The courier's heartbeat: when it last finished a round, and whether its rounds fail, for /healthz and /metrics.

The courier writes it twice: to the store (a hold it renews, which proves the
store takes writes even while nothing else is written) and to a small file in
the spool directory, which the request workers read on every health check
without asking the store anything.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from read_receipts.store.couriers import Couriers

FILE = "courier.heartbeat"
STORE_EVERY = 10.0  # seconds between two heartbeats written to the store
FILE_EVERY = 1.0  # ... and to the file


class DeliveryHealth(StrEnum):
    """What /healthz says of delivery."""

    OK = "ok"  # the courier finished a round within COURIER_STALL_SECONDS
    STARTING = "starting"  # no round finished yet, and the service started less than COURIER_STALL_SECONDS ago
    FAILING = "failing"  # its rounds run but fail: the store refuses writes or is away
    STALLED = "stalled"  # no round finished within COURIER_STALL_SECONDS (stopped, hung, never started)


@dataclass(frozen=True)
class Beat:
    """The courier's last word: its last finished round, and the failure of the rounds since, if they fail."""

    pid: int
    finished_at: float  # the last round that finished (0: none yet)
    failing_since: float = 0.0  # the first of the rounds failing now (0: the last round went well)
    failed_at: float = 0.0  # the last of them
    error: str = ""  # what the last failed round said

    def health(self, now: float, stall_seconds: float) -> DeliveryHealth:
        """Say whether delivery goes on, fails, or has stalled."""
        last_word = max(self.finished_at, self.failed_at)
        if now - last_word > stall_seconds:
            return DeliveryHealth.STALLED
        if self.failing_since and now - self.finished_at > stall_seconds:
            return DeliveryHealth.FAILING
        return DeliveryHealth.OK


class Heartbeat:
    """Written by the courier after each round; read by /healthz and /metrics."""

    def __init__(self, directory: str | Path, couriers: Couriers, stall_seconds: float):
        self.path = Path(directory) / FILE
        self.couriers = couriers
        self.stall_seconds = stall_seconds
        self.name = f"{socket.gethostname()}:{Path(directory).resolve()}"
        self._next_store = self._next_file = 0.0
        self._beat = Beat(os.getpid(), 0.0)

    def finished(self, now: float) -> None:
        """A round finished: renew the store's hold (raises if the store refuses the write), then the file."""
        if now >= self._next_store:
            self.couriers.beat(self.name, now + self.stall_seconds)
            self._next_store = now + STORE_EVERY
        failed = self._beat.failing_since
        self._beat = Beat(os.getpid(), now)
        if failed or now >= self._next_file:
            self._write()

    def failed(self, now: float, error: BaseException) -> None:
        """A round failed: say so in the file (the store may be what fails), and try the store again next round."""
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        since = self._beat.failing_since or now
        self._beat = Beat(os.getpid(), self._beat.finished_at, since, now, (reason or [""])[0][:200])
        self._next_store = 0.0
        self._write()

    def _write(self) -> None:
        """Replace the file at once (a reader never sees half of it); a spool that takes nothing loses only the beat."""
        self._next_file = time.time() + FILE_EVERY
        fresh = self.path.with_name(f".{FILE}.{os.getpid()}")
        try:
            fresh.write_text(json.dumps(asdict(self._beat)))
            os.replace(fresh, self.path)
        except OSError:
            pass  # the spool's own checks report an unwritable directory


def delivery_health(beat: Beat | None, now: float, started_at: float, stall_seconds: float) -> DeliveryHealth:
    """Say how delivery goes from the last heartbeat; none yet is a start-up for COURIER_STALL_SECONDS, then a stall."""
    if beat is not None:
        return beat.health(now, stall_seconds)
    return DeliveryHealth.STARTING if now - started_at <= stall_seconds else DeliveryHealth.STALLED


def last_beat(directory: str | Path) -> Beat | None:
    """The courier's last heartbeat in a spool directory, or None when it wrote none (or it cannot be read)."""
    try:
        fields = json.loads((Path(directory) / FILE).read_text())
        return Beat(**fields)
    except (OSError, ValueError, TypeError):
        return None
