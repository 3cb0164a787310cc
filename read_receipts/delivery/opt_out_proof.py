"""Whether an opt-out link was followed by the requester of its ticket: the pixel's requester check, asked at once."""

from __future__ import annotations

from enum import StrEnum

from read_receipts.delivery.pacing import Pacing
from read_receipts.delivery.zendesk import ZendeskVerdict
from read_receipts.settings import Settings
from read_receipts.store.tickets import Tickets

NETWORK = "opt-out"  # its own part of the checks' budget: a flood of links leaves half of it to the pixel's checks


class Proof(StrEnum):
    """What Zendesk says of a (ticket, requester) pair."""

    THEIRS = "theirs"  # the requester of that ticket (or nothing to check against)
    NOT_THEIRS = "not_theirs"  # another requester's ticket, or no such ticket
    UNKNOWN = "unknown"  # Zendesk cannot be asked now: try again later


def requester_proof(
    tickets: Tickets, pacing: Pacing, settings: Settings, ticket_id: int, requester_id: int, now: float
) -> Proof:
    """Check a pair against the ticket cache, else against Zendesk (within the checks' budget)."""
    zendesk = pacing.zendesk
    if not settings.verify_requester or zendesk.dry_run:
        return Proof.THEIRS  # as with the pixel: without verification, the ids are taken as sent
    cached = tickets.cached(ticket_id)
    if cached is not None:
        return Proof.THEIRS if cached.requester_id == requester_id else Proof.NOT_THEIRS
    if pacing.gate(now, check=True, network=NETWORK):
        return Proof.UNKNOWN
    answer = zendesk.ticket(ticket_id)
    pacing.observe(answer, now, f"checking ticket {ticket_id} for an opt-out")
    if answer.status == 404:
        return Proof.NOT_THEIRS
    found = (answer.body or {}).get("ticket") or {}
    if answer.verdict != ZendeskVerdict.OK or not isinstance(found.get("requester_id"), int):
        return Proof.UNKNOWN
    return Proof.THEIRS if found["requester_id"] == requester_id else Proof.NOT_THEIRS
