"""A ticket in plain words: what Zendesk said of it, its unread tag, what became of each open (explain, the ticket page)."""

from __future__ import annotations

from datetime import UTC, datetime

from read_receipts.settings import Settings
from read_receipts.store.deliveries import Delivery, DeliveryState
from read_receipts.store.opens import Open, OpenState, why_not_noted
from read_receipts.store.ticket_updates import TicketUpdate, TicketUpdateState
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


def unread_tag_line(row: TicketUpdate | None, settings: Settings) -> str:
    """Whether the ticket carries the unread tag, since when, and whether a person's read took it away."""
    tag, after = settings.unopened_tag if settings.unopened_after else "", settings.unopened_after
    if not tag:
        return "Unread tag: off (UNOPENED_AFTER_HOURS is 0 or UNOPENED_TAG is empty)."
    if row is None or (row.unread_sent_at is None and row.tag_sent is None and row.untagged_at is None):
        return (
            f"Unread tag: never tagged {tag}: no reply of this ticket went unread by a person for {after / 3600:g} h."
        )
    late = f"the reply sent {_moment(row.unread_sent_at)} was not read by a person within {after / 3600:g} h"
    if row.tag_sent:
        since = f" since {_moment(row.tagged_at)}" if row.tagged_at else ""
        return f"Unread tag: tagged {row.tag_sent}{since}: {late}."
    if row.unread:
        return f"Unread tag: {tag} {_not_sent(row)}: {late}."
    read = f"a person read a reply {_moment(row.read_at)}"
    if row.untagged_at is not None:
        added = f", added {_moment(row.tagged_at)}" if row.tagged_at else ""
        return f"Unread tag: {tag} taken away {_moment(row.untagged_at)}{added}: {read}."
    return f"Unread tag: not added: {read}, before the tag went out ({late})."


def _not_sent(row: TicketUpdate) -> str:
    """Why a wanted tag is not on the ticket yet."""
    if row.state == TicketUpdateState.FAILED:
        return f"could not be added, for good ({row.last_error or 'Zendesk refused it'})"
    if row.state == TicketUpdateState.DEAD:
        return "could not be added: see dead letters"
    if row.outcome_unknown:
        return "was sent and Zendesk's answer never came: it may be on the ticket, and is looked up there before it is sent again"  # noqa: E501
    return "is queued, not on the ticket yet"


def _moment(at: float | None) -> str:
    """A stored time, as explain writes times."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC") if at is not None else "(time unknown)"
