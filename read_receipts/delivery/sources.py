"""Sources of opens waiting on a ticket check, served in turn so no one source starves the others.

A source is the client's network (/24 for IPv4, /48 for IPv6) and, within it,
the requester id the pixel named. Checks go to the network served least lately,
then to its requester served least lately, then to the oldest open: whoever
sends ten thousand forged ids gets one turn in each round of sources.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from read_receipts.store.privacy import kept_address

MAX_REMEMBERED = 50_000  # turns remembered; beyond, the memory of turns starts afresh


class CheckTurns:
    """Which source's open gets the next ticket check (each worker keeps its own turns)."""

    def __init__(self):
        self._served: dict = {}
        self._counter = itertools.count(1)

    def next_ticket(self, waiting: Sequence, spent: Callable[[set], set]) -> tuple[int, str | None] | None:
        """Pick, among rows of (ip, requester_id, first, ticket_id), the ticket to check next, and its network.

        `spent` names, of the networks given, those that used their part of the checks' budget.
        """
        full = spent({network_of(row.ip) for row in waiting}) if waiting else set()
        open_to = [row for row in waiting if network_of(row.ip) not in full]
        if not open_to:
            return None

        def turn(row) -> tuple:
            network = network_of(row.ip)
            return (self._served.get(network, 0), self._served.get((network, row.requester_id), 0), row.first)

        chosen = min(open_to, key=turn)
        network = network_of(chosen.ip)
        if len(self._served) > MAX_REMEMBERED:
            self._served.clear()
        served = next(self._counter)
        self._served[network] = self._served[(network, chosen.requester_id)] = served
        return chosen.ticket_id, network


def network_of(address: str | None) -> str | None:
    """The network a client address belongs to: its /24 (IPv4) or /48 (IPv6)."""
    return kept_address(address, "truncated")
