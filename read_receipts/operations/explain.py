"""`flask --app app explain TICKET`: a ticket's last opens, and what became of each, in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

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


@click.command("explain")
@click.argument("ticket_id", type=click.IntRange(min=1, max=10**18 - 1))
@click.option("--last", default=20, show_default=True, type=click.IntRange(min=1, max=1000), help="How many opens.")
@with_appcontext
def explain_command(ticket_id: int, last: int) -> None:
    """Show a ticket's last opens: when, which client, what kind, and what became of each."""
    store = current_app.extensions["store"]
    click.echo(_ticket_line(store.tickets.cached(ticket_id), ticket_id))
    rows = store.opens.last_of_ticket(ticket_id, last)
    if not rows:
        click.echo("No opens stored: the pixel of this ticket's replies was never loaded (or the opens were erased).")
        return
    notes = {row.open_id: row for row in store.deliveries.for_ticket(ticket_id) if row.open_id is not None}
    for row in reversed(rows):
        click.echo(
            f"{_when(row.opened_at)}  {_reply(row)}  {row.client or '-'}  {row.kind or '-'}  {_fate(row, notes)}"
        )


def _ticket_line(ticket: Ticket | None, ticket_id: int) -> str:
    """What Zendesk said of the ticket, when it was asked."""
    if ticket is None:
        return f"Ticket {ticket_id}: not checked with Zendesk (yet)."
    requester = f"requester {ticket.requester_id}" if ticket.requester_id else "no requester known"
    return f"Ticket {ticket_id}: Zendesk says status {ticket.status}, {requester}."


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _reply(row: Open) -> str:
    return f"reply #{row.comment_id}" if row.comment_id else "reply unknown"


def _fate(row: Open, notes: dict[int, Delivery]) -> str:
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
