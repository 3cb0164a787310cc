"""`flask --app app dead-letters ...`: list, retry and delete the rows the courier set aside."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from read_receipts.store.dead_letters import DEAD_KINDS

dead_letters = AppGroup("dead-letters", help="Work the courier failed on and set aside: list, retry, delete.")
KIND = click.Choice(sorted(DEAD_KINDS))


def _store():
    return current_app.extensions["store"]


@dead_letters.command("list")
@click.option("--kind", type=KIND, help="Only this kind of work.")
def list_command(kind: str | None) -> None:
    """Print each dead row: its kind, id and error."""
    rows = _store().dead_letters.listing(kind, limit=1000)
    for name, row in rows:
        error = row.error if name in ("opens", "events") else row.last_error
        click.echo(f"{name}\t{row.id}\t{error}")
    if not rows:
        click.echo("No dead letters.")


@dead_letters.command("retry")
@click.argument("kind", type=KIND)
@click.argument("ids", type=click.IntRange(min=1), nargs=-1)
def retry_command(kind: str, ids: tuple[int, ...]) -> None:
    """Put dead rows of KIND back in line (the ids given, or all of them)."""
    count = _store().dead_letters.retry(kind, ids or None, time.time())
    click.echo(f"{count} {kind} back in line.")


@dead_letters.command("delete")
@click.argument("kind", type=KIND)
@click.argument("ids", type=click.IntRange(min=1), nargs=-1)
def delete_command(kind: str, ids: tuple[int, ...]) -> None:
    """Delete dead rows of KIND (the ids given, or all of them)."""
    count = _store().dead_letters.delete(kind, ids or None)
    click.echo(f"{count} {kind} deleted.")
