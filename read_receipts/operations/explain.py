"""`flask --app app explain TICKET`: a ticket's unread tag and last opens, and what became of each, in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from read_receipts.insights.explanations import fate, ticket_line, unread_tag_line
from read_receipts.store.opens import Open


@click.command("explain")
@click.argument("ticket_id", type=click.IntRange(min=1, max=10**18 - 1))
@click.option("--last", default=20, show_default=True, type=click.IntRange(min=1, max=1000), help="How many opens.")
@with_appcontext
def explain_command(ticket_id: int, last: int) -> None:
    """Show a ticket's last opens: when, which client, what kind, and what became of each."""
    store = current_app.extensions["store"]
    click.echo(ticket_line(store.tickets.cached(ticket_id), ticket_id))
    click.echo(unread_tag_line(store.ticket_updates.of_ticket(ticket_id), current_app.extensions["settings"]))
    rows = store.opens.last_of_ticket(ticket_id, last)
    if not rows:
        click.echo("No opens stored: the pixel of this ticket's replies was never loaded (or the opens were erased).")
        return
    notes = {row.open_id: row for row in store.deliveries.for_ticket(ticket_id) if row.open_id is not None}
    for row in reversed(rows):
        click.echo(f"{_when(row.opened_at)}  {_reply(row)}  {row.client or '-'}  {row.kind or '-'}  {fate(row, notes)}")


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _reply(row: Open) -> str:
    return f"reply #{row.comment_id}" if row.comment_id else "reply unknown"
