"""`flask --app app opt-outs ...`: list, add and revoke the requesters (and link recipients) who are not tracked."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from read_receipts.insights.opt_out_page import opt_out_link, opt_outs, when

REQUESTER_ID = click.IntRange(min=1, max=10**18 - 1)  # a Zendesk id, as the pixel reads them
opt_out_commands = AppGroup("opt-outs", help="Requesters who opted out of tracking: list, add, revoke.")


def print_opt_out_footer(settings) -> None:
    """Print the opt-out footer for `img-tag`, and what stops it working."""
    click.echo(opt_out_link(settings.public_url))
    if not settings.verify_requester:
        click.echo(
            "Note: with VERIFY_REQUESTER=false the image carries no requester id, so its loads cannot be matched "
            "to an opt-out; add &requester_id={{ticket.requester.id}} to its URL.",
            err=True,
        )


@opt_out_commands.command("list")
def list_command() -> None:
    """Print every requester who opted out, newest first."""
    listed = opt_outs().listing()
    for opt_out in listed:
        source = f"from ticket {opt_out.ticket_id}" if opt_out.ticket_id else "added by an admin"
        click.echo(f"{opt_out.requester_id}\t{when(opt_out.opted_out_at)}\t{source}")
    if not listed:
        click.echo("No requester has opted out.")
    for opt_out in opt_outs().recipients():
        click.echo(f"{opt_out.recipient}\t{when(opt_out.opted_out_at)}\tfrom a tracking link")


@opt_out_commands.command("revoke")
@click.argument("requester_id", type=REQUESTER_ID, required=False)
@click.option("--recipient", help="A tracking-link recipient instead of a Zendesk requester.")
def revoke_command(requester_id: int | None, recipient: str | None) -> None:
    """Track REQUESTER_ID (or a tracking-link --recipient) again."""
    if (requester_id is None) == (recipient is None):
        raise click.UsageError("name one REQUESTER_ID, or --recipient")
    if recipient is not None:
        if not opt_outs().revoke_recipient(recipient):
            raise click.ClickException(f"{recipient} has not opted out")
        click.echo(f"{recipient} is tracked again.")
        return
    if not opt_outs().revoke(requester_id):
        raise click.ClickException(f"requester {requester_id} has not opted out")
    click.echo(f"Requester {requester_id} is tracked again.")


@opt_out_commands.command("add")
@click.argument("requester_id", type=REQUESTER_ID)
def add_command(requester_id: int) -> None:
    """Stop tracking REQUESTER_ID (who asked by other means than the link)."""
    added = opt_outs().add(requester_id, None, time.time())
    click.echo(f"Requester {requester_id} {'is' if added else 'was already'} not tracked.")
