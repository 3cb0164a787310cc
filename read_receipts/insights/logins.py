"""Failed logins: logged, and slowed down after repeated failures from one address.

The count lives in each worker process's memory: enough to make guessing a
password slow, with no store round trip on every login. Several workers or
instances each keep their own count (see README, Security).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("read_receipts.logins")

FREE_FAILURES = 5  # failures allowed from one address before it has to wait
WINDOW = 600.0  # seconds a failure is remembered
LOCKOUT = 60.0  # seconds an address waits once it has used its free failures
MAX_ADDRESSES = 10_000  # bound on the memory a flood of addresses can take


class LoginGuard:
    """Counts failed logins per client address, in one process."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, address: str) -> float:
        """Seconds this address must wait before trying again (0 when it may try now)."""
        with self._lock:
            recent = self._recent(address)
            if len(recent) < FREE_FAILURES:
                return 0.0
            return max(0.0, recent[-1] + LOCKOUT - self.clock())

    def failed(self, address: str, user: str) -> None:
        """Remember and log a failed login (the user name it tried, never the password)."""
        with self._lock:
            if len(self._failures) >= MAX_ADDRESSES:
                self._failures.clear()  # a flood of addresses: forget rather than grow
            recent = self._recent(address)
            recent.append(self.clock())
            self._failures[address] = recent
            count = len(recent)
        log.warning("login failed for user %r from %s (%d in %d min)", user[:64], address, count, WINDOW // 60)

    def succeeded(self, address: str) -> None:
        """Forget an address's failures once it logs in."""
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> list[float]:
        """The failures of an address still inside the window."""
        since = self.clock() - WINDOW
        return [at for at in self._failures.get(address, []) if at > since]
