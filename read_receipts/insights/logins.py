"""Failed logins: logged, and slowed down after repeated failures from one address or one network.

The count lives in each worker process's memory: enough to make guessing a
password slow, with no store round trip on every login. Several workers or
instances each keep their own count (see README, Security). Failures are
counted per address and per network (/24 for IPv4, /64 for IPv6): whoever
holds a network's many addresses gets no more tries for spreading over them.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time

log = logging.getLogger("read_receipts.logins")

FREE_FAILURES = 5  # failures allowed from one address before it has to wait
NETWORK_FREE_FAILURES = 20  # failures allowed from all the addresses of one network before they all wait
WINDOW = 600.0  # seconds a failure is remembered
LOCKOUT = 60.0  # seconds an address (or network) waits once it has used its free failures
MAX_ADDRESSES = 10_000  # bound on the memory a flood of addresses can take
PREFIXES = {4: 24, 6: 64}  # what one network is: what one customer, office or host usually holds


def network_of(address: str) -> str:
    """The network an address belongs to (the address itself when it is not an IP address)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(ipaddress.ip_network(f"{ip}/{PREFIXES[ip.version]}", strict=False))


class LoginGuard:
    """Counts failed logins per client address and per network, in one process."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, address: str) -> float:
        """Seconds this address must wait before trying again (0 when it may try now)."""
        with self._lock:
            waits = [self._wait(key, free) for key, free in self._counted(address)]
        return max(waits)

    def failed(self, address: str, user: str) -> None:
        """Remember and log a failed login (the user name it tried, never the password)."""
        with self._lock:
            if len(self._failures) >= MAX_ADDRESSES:
                self._failures.clear()  # a flood of addresses: forget rather than grow
            counts = []
            for key, _ in self._counted(address):
                recent = self._recent(key)
                recent.append(self.clock())
                self._failures[key] = recent
                counts.append(len(recent))
        network = network_of(address)
        log.warning(
            "login failed for user %r from %s (%d in %d min; %d from %s)",
            user[:64],
            address,
            counts[0],
            WINDOW // 60,
            counts[-1],
            network,
        )

    def succeeded(self, address: str) -> None:
        """Forget an address's failures once it logs in (its network's stay counted)."""
        with self._lock:
            self._failures.pop(address, None)

    def _counted(self, address: str) -> list[tuple[str, int]]:
        """The keys a failure from this address is counted under, each with its free failures."""
        network = network_of(address)
        return [(address, FREE_FAILURES)] + ([(network, NETWORK_FREE_FAILURES)] if network != address else [])

    def _wait(self, key: str, free: int) -> float:
        """Seconds a key must wait, once its free failures are used."""
        recent = self._recent(key)
        if len(recent) < free:
            return 0.0
        return max(0.0, recent[-1] + LOCKOUT - self.clock())

    def _recent(self, key: str) -> list[float]:
        """The failures of a key still inside the window."""
        since = self.clock() - WINDOW
        return [at for at in self._failures.get(key, []) if at > since]
