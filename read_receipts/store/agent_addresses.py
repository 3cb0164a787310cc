"""Learned agent addresses: remembered from an agent's browser, flagged when requesters read from them too."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from read_receipts.labels.openers import AGENT, parse_address
from read_receipts.store.database import Database, insert_ignore
from read_receipts.store.opens import OpenState
from read_receipts.store.privacy import kept_address
from read_receipts.store.schema import agent_addresses, agent_passes, opens

DAY = 86400.0
RECHECK_SECONDS = 3600.0  # an address's verified reads are counted at most hourly: the count scans opens
READS_COUNTED_MAX = 1000  # enough to tell the admin "many"; the count stops there
REFRESH_SECONDS = 2.0  # how stale triage's copy of the learned addresses may be
VERIFIED_READ_STATES = (
    OpenState.COUNTED,
    OpenState.NOTED,
)  # a load Zendesk verified as the requester's, counted as a read


class AddressState(StrEnum):
    """Whether a learned address is applied to loads."""

    LEARNED = "learned"  # applied: loads from it are `agent`
    FLAGGED = "flagged"  # verified requesters' reads came from it too: not applied until the admin confirms
    CONFIRMED = "confirmed"  # the admin said it is agents' only: applied


APPLIED = (AddressState.LEARNED, AddressState.CONFIRMED)
# Each process's copy of the applied addresses, per store (see is_learned_agent_address).
_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class LearnedAddress:
    """One address agents were seen at."""

    address: str
    agent_id: int
    first_seen: float
    last_seen: float
    state: AddressState
    verified_reads: int


def normal_address(address: str | None) -> str | None:
    """The address in one spelling (IPv4-mapped IPv6 as IPv4), or None when it is not an address."""
    ip = parse_address(address)
    return str(ip) if ip is not None else None


def use_pass(store: Database, pass_id: str, now: float, seconds: float) -> bool:
    """Mark a pass used; False if it was used before (a replay). Passes past their life are forgotten."""
    with store.engine.begin() as conn:
        conn.execute(delete(agent_passes).where(agent_passes.c.used_at < now - 2 * seconds))
        return insert_ignore(conn, agent_passes, pass_id=pass_id, used_at=now)


def learn(store: Database, address: str, agent_id: int, now: float, days: float, ip_storage: str) -> AddressState:
    """Remember that an agent's browser came from an address; flag it if verified requesters read from it."""
    with store.engine.begin() as conn:
        conn.execute(delete(agent_addresses).where(agent_addresses.c.last_seen < now - days * DAY))
        known = conn.execute(select(agent_addresses).where(agent_addresses.c.address == address)).first()
        fresh = known is not None and now - known.checked_at < RECHECK_SECONDS
        reads = known.verified_reads if fresh else _verified_reads(conn, kept_address(address, ip_storage))
        state = _state_after(known, reads)
        row = dict(agent_id=agent_id, last_seen=now, state=state, verified_reads=reads)
        row["checked_at"] = known.checked_at if fresh else now
        if known is not None or not insert_ignore(conn, agent_addresses, address=address, first_seen=now, **row):
            conn.execute(update(agent_addresses).where(agent_addresses.c.address == address).values(**row))
    _COPIES.pop(store, None)  # this process sees the change at once; others within REFRESH_SECONDS
    return state


def _state_after(known, reads: int) -> AddressState:
    """A new address is flagged when verified reads came from it; a learned one, once they do; the admin's word stays."""
    if known is None:
        return AddressState.FLAGGED if reads else AddressState.LEARNED
    state = AddressState(known.state)
    return AddressState.FLAGGED if reads and state == AddressState.LEARNED else state


def _verified_reads(conn: Connection, kept: str | None) -> int:
    """Count (up to a bound) the reads Zendesk verified that came from an address, in the form opens keep it."""
    if kept is None:  # IP_STORAGE=none: opens keep no address to compare
        return 0
    found = (
        select(opens.c.id)
        .where(opens.c.ip == kept, opens.c.state.in_(VERIFIED_READ_STATES), opens.c.kind != AGENT)
        .limit(READS_COUNTED_MAX)
        .subquery()
    )
    return conn.execute(select(func.count()).select_from(found)).scalar_one()


def listing(store: Database, now: float, days: float) -> list[LearnedAddress]:
    """Every address learned and not yet expired, flagged ones first, then the most recently seen."""
    query = select(agent_addresses).where(agent_addresses.c.last_seen >= now - days * DAY)
    with store.reading() as conn:
        rows = conn.execute(query).all()
    found = [
        LearnedAddress(r.address, r.agent_id, r.first_seen, r.last_seen, AddressState(r.state), r.verified_reads)
        for r in rows
    ]
    return sorted(found, key=lambda a: (a.state != AddressState.FLAGGED, -a.last_seen))


def forget(store: Database, address: str) -> bool:
    """Remove a learned address; False if it was not learned."""
    with store.engine.begin() as conn:
        removed = conn.execute(delete(agent_addresses).where(agent_addresses.c.address == address)).rowcount > 0
    _COPIES.pop(store, None)
    return removed


def confirm(store: Database, address: str) -> bool:
    """Apply a flagged address after all (the admin says only agents read from it); False if it is not learned."""
    with store.engine.begin() as conn:
        changed = conn.execute(
            update(agent_addresses).where(agent_addresses.c.address == address).values(state=AddressState.CONFIRMED)
        )
    _COPIES.pop(store, None)
    return changed.rowcount > 0


def applied(store: Database, now: float, days: float) -> frozenset[str]:
    """The addresses whose loads are labelled `agent` now."""
    query = select(agent_addresses.c.address).where(
        agent_addresses.c.state.in_(APPLIED), agent_addresses.c.last_seen >= now - days * DAY
    )
    with store.reading() as conn:
        return frozenset(conn.execute(query).scalars())


class _AppliedCopy:
    """A process's copy of the applied addresses, read again when it is a little stale."""

    def __init__(self):
        self.addresses: frozenset[str] = frozenset()
        self.read_at = float("-inf")

    def holds(self, store: Database, address: str, days: float) -> bool:
        """Whether an address is applied, reading the store again when this copy is stale."""
        if time.monotonic() - self.read_at > REFRESH_SECONDS:
            self.addresses = applied(store, time.time(), days)
            self.read_at = time.monotonic()
        if address in self.addresses:
            return True
        # A socket's IPv4 address is already in its one spelling; IPv6 has several (and IPv4-mapped ones).
        return bool(self.addresses) and ":" in address and normal_address(address) in self.addresses


def is_learned_agent_address(store: Database, settings, address: str | None) -> bool:
    """Whether a load's address is a learned agent address applied now (one small query every few seconds)."""
    if not settings.agent_learning or not address:
        return False
    return _COPIES.setdefault(store, _AppliedCopy()).holds(store, address, settings.agent_address_days)
