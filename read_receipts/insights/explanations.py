"""A ticket's opens in plain words: what Zendesk said of it and what became of each open (explain and the ticket page)."""

from __future__ import annotations

from read_receipts.store.deliveries import Delivery, DeliveryState
from read_receipts.store.opens import Open, OpenState, why_not_noted
from read_receipts.store.tickets import Ticket

NOTE_OUTCOMES = {
    DeliveryState.DONE: "noted: the private note was posted",
    DeliveryState.LOGGED: "noted: dry run, the note was logged here, not posted",
    DeliveryState.PENDING: "noted: the note is queued",
    DeliveryState.FAILED: "note failed",
    DeliveryState.SKIPPED: "note skipped: nothing left to say",
}


def ticket_line(ticket: Ticket | None, ticket_id: int) -> str:
    """What Zendesk said of the ticket, when it was asked."""
    if ticket is None:
        return f"Ticket {ticket_id}: not checked with Zendesk (yet)."
    requester = f"requester {ticket.requester_id}" if ticket.requester_id else "no requester known"
    return f"Ticket {ticket_id}: Zendesk says status {ticket.status}, {requester}."


def fate(row: Open, notes: dict[int, Delivery]) -> str:
    """What became of one open, in plain words."""
    if row.state == OpenState.NEW:
        return "waiting: not triaged yet (the courier may be waiting for Zendesk)"
    if row.state == OpenState.NOTED:
        note = notes.get(row.id)
        outcome = NOTE_OUTCOMES.get(note.state, note.state) if note else "noted"
        return f"{outcome} ({note.last_error})" if note is not None and note.last_error else outcome
    if row.state == OpenState.DRY_RUN:
        return "no note: a dry run's load (no Zendesk credentials then): logged, never posted, not a verified read"
    if row.state == OpenState.COUNTED:
        return "counted: part of the reply's summary note (repeat opens are summed up)"
    reason = why_not_noted(row.state, row.kind)
    return f"no note: {reason}" if reason else row.state
