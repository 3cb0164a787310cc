"""`flask --app app db ...`: upgrade the store's schema as a deploy step, and see where it stands."""

from __future__ import annotations

import click
from alembic import command
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import AppGroup

from read_receipts.store.upgrade import SchemaError, alembic_config, current, head, upgrade

db = AppGroup("db", help="The store's schema: upgrade it, see its revision and the migrations.")


def _store():
    return current_app.extensions["store"]


@db.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Upgrade the store's schema to REVISION (default: this release's), under the same lock as start-up."""
    try:
        changed = upgrade(_store().engine, revision)
    except SchemaError as error:
        raise click.ClickException(str(error)) from None
    if changed is None:
        click.echo(f"The store's schema is already at {current(_store().engine)}; nothing to do.")
    else:
        click.echo(f"Upgraded the store's schema from {changed[0] or 'empty'} to {changed[1]}.")


@db.command("current")
def current_command() -> None:
    """Print the store's schema revision, and whether it is this release's."""
    found, wanted = current(_store().engine), head()
    if found == wanted:
        click.echo(f"{found} (head: this release's schema)")
    else:
        click.echo(f"{found or 'none'} (this release needs {wanted}: run `flask --app app db upgrade`)")


@db.command("history")
def history_command() -> None:
    """List the migrations, newest first."""
    for script in ScriptDirectory.from_config(alembic_config()).walk_revisions():
        marker = " (head)" if script.is_head else ""
        click.echo(f"{script.down_revision or '<base>'} -> {script.revision}{marker}: {script.doc}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration changes, in a few words.")
def revision_command(message: str) -> None:
    """Write a new migration from the difference between the models and an up-to-date store (for developers)."""
    engine = _store().engine
    if current(engine) != head():
        raise click.ClickException(
            "upgrade the store first (`flask --app app db upgrade`): the migration is the difference from head."
        )
    number = f"{int(head()) + 1:04d}"
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message, autogenerate=True, rev_id=number)
