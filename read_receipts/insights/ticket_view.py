"""One ticket as the dashboard shows it: Zendesk's status and requester, each load, the notes and their words."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from read_receipts.delivery import notes
from read_receipts.delivery.posting import named_reply, waiting_loads
from read_receipts.insights import analytics, display
from read_receipts.insights import explanations as explain
from read_receipts.labels.openers import APPLE_PRELOAD, PERSON
from read_receipts.settings import Settings
from read_receipts.store import Stores


@dataclass(frozen=True)
class Note:
    """A note queued or posted on the ticket, with its words."""

    kind: str  # first | summary
    state: str
    at: float  # when it was posted, or queued
    text: str
    error: str


@dataclass(frozen=True)
class TicketView:
    ticket_id: int
    zendesk_says: str  # explain's first line
    unread_tag: str  # explain's second line: the unread tag's state
    status: str  # '' when never checked
    requester_id: int | None
    checked_at: float | None
    loads: list[dict]
    notes: list[Note]


def view(store: Stores, settings: Settings, ticket_id: int) -> TicketView:
    """Gather what is stored for a ticket, in the words `flask --app app explain` uses."""
    ticket = store.tickets.cached(ticket_id)
    deliveries = store.deliveries.for_ticket(ticket_id)
    by_open = {row.open_id: row for row in deliveries if row.open_id is not None}
    loads = analytics.timeline(store, ticket_id)
    for load in loads:
        if "state" in load:  # a pixel load or a link's (a bare link event has no fate of its own)
            load["fate"] = explain.fate(SimpleNamespace(**load), by_open)
    return TicketView(
        ticket_id=ticket_id,
        zendesk_says=explain.ticket_line(ticket, ticket_id),
        unread_tag=explain.unread_tag_line(store.ticket_updates.of_ticket(ticket_id), settings),
        status=ticket.status if ticket is not None else "",
        requester_id=ticket.requester_id if ticket is not None else None,
        checked_at=ticket.checked_at if ticket is not None else None,
        loads=loads,
        notes=_notes(store, settings, deliveries, loads, ticket),
    )


def _notes(store: Stores, settings: Settings, deliveries, loads: list[dict], ticket) -> list[Note]:
    """Each delivery with the words it carried (or will carry), written as posting writes them."""
    opens_by_id = {load["id"]: load for load in loads if "state" in load}
    found, last_note_at = [], {}
    words = notes.words(settings.note_language, settings.note_timezone)
    for row in deliveries:
        reply = store.replies.get(row.ticket_id, row.reply_key)
        named = named_reply(store.tickets, store.replies, row, reply, ticket) if reply is not None else None
        at = row.done_at or row.created_at
        text = _words(row, reply, named, opens_by_id, loads, last_note_at.get(row.reply_key, 0.0), words)
        if row.state in ("done", "logged"):
            last_note_at[row.reply_key] = at
        found.append(Note(row.kind, row.state, at, text, row.last_error or ""))
    return found


def _words(row, reply, named, opens_by_id: dict, loads: list[dict], since: float, words: notes.Words) -> str:
    """A note's text: a first note from its open; a summary from the opens it covered since the last note."""
    if reply is None:
        return ""
    if row.kind == "first":
        opened = opens_by_id.get(row.open_id)
        if opened is None:
            return ""
        at = display.iso_moment(opened["at"])
        return words.first_open(at, named, opened["kind"] or PERSON, opened["client"] or "", reply.sent_at)
    if row.state == "pending":  # as posting will write it: the opens not yet noted
        if reply.opens - reply.opens_noted <= 0:
            return ""
        return words.more_opens(waiting_loads(reply), reply.last_open_at, named)
    # A posted summary covered the counted opens since the note before it (times are kept to the second here).
    since, until = int(since), row.done_at or float("inf")
    covered = [
        load
        for load in loads
        if load.get("reply") == (row.reply_key or None)
        and load.get("state") == "counted"
        and since < display.iso_moment(load["at"]) <= until
    ]
    if not covered:
        return ""
    reads = sum(1 for load in covered if load.get("kind") == PERSON)
    preloads = sum(1 for load in covered if load.get("kind") == APPLE_PRELOAD)
    summed = notes.SummedLoads(reads, preloads, len(covered) - reads - preloads)
    return words.more_opens(summed, max(display.iso_moment(load["at"]) for load in covered), named)
