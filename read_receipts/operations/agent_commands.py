"""`flask --app app agents list|forget|confirm`: the learned agent addresses, for the admin."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from read_receipts.store import agent_addresses as addresses


@click.group("agents")
def agents() -> None:
    """Agent addresses learned from the Zendesk sidebar app."""


@agents.command("list")
@with_appcontext
def list_command() -> None:
    """List learned addresses, flagged ones first."""
    settings = current_app.extensions["settings"]
    learned = addresses.listing(current_app.extensions["store"], time.time(), settings.agent_address_days)
    if not learned:
        click.echo("No agent address learned yet.")
    for item in learned:
        seen = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(item.last_seen))
        line = f"{item.address}\t{item.state}\tagent {item.agent_id}\tlast seen {seen}"
        if item.state == addresses.AddressState.FLAGGED:
            line += f"\t{item.verified_reads} verified requesters' reads came from it: not applied until confirmed"
        click.echo(line)
    if not settings.agent_learning:
        click.echo("AGENT_LEARNING is false: no learned address is applied.", err=True)


def _address(raw: str) -> str:
    """The address an argument names, or a usage error."""
    address = addresses.normal_address(raw)
    if address is None:
        raise click.BadParameter(f"{raw!r} is not an IP address", param_hint="ADDRESS")
    return address


@agents.command("forget")
@click.argument("address")
@with_appcontext
def forget_command(address: str) -> None:
    """Remove a learned address: its loads are labelled as anyone's again."""
    address = _address(address)
    if not addresses.forget(current_app.extensions["store"], address):
        raise click.ClickException(f"{address} is not a learned agent address.")
    click.echo(f"Forgot {address}.")


@agents.command("confirm")
@click.argument("address")
@with_appcontext
def confirm_command(address: str) -> None:
    """Apply a flagged address: you know only agents read from it."""
    address = _address(address)
    if not addresses.confirm(current_app.extensions["store"], address):
        raise click.ClickException(f"{address} is not a learned agent address.")
    click.echo(f"{address} is confirmed: its loads are labelled agent.")
