"""Flask CLI commands: the img tag to paste, a credentials check, and the address ranges refresh."""

from __future__ import annotations

import ipaddress
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import click
import requests
from flask import Flask, current_app
from flask.cli import with_appcontext

from read_receipts.delivery.zendesk import ZendeskVerdict
from read_receipts.labels import openers
from read_receipts.links.rewriting import rewrite_html
from read_receipts.links.tokens import MetaTooLong, TargetError
from read_receipts.operations.db_commands import db
from read_receipts.operations.dead_letter_commands import dead_letters
from read_receipts.operations.explain import explain_command
from read_receipts.operations.opt_out_commands import opt_out_commands, print_opt_out_footer
from read_receipts.operations.zendesk_app_command import add_zendesk_app_commands

# Reserved for examples and tests (RFC 2606, RFC 6761): mail clients never reach them.
_EXAMPLE_TLDS = {"example", "test", "invalid", "localhost"}
_EXAMPLE_DOMAINS = {"example.com", "example.net", "example.org"}

# `sent` is when the update that sends the email was made (UTC, to the minute).
SENT = "sent={{ticket.updated_at_with_timestamp}}"
PIXEL_QUERY = (
    "ticket_id={{ticket.id}}&requester_id={{ticket.requester.id}}"
    f"&comment_id={{{{ticket.latest_public_comment.id}}}}&{SENT}"
)


def img_tag(public_url: str, verify_requester: bool = True) -> str:
    """Return the img tag for the Zendesk trigger's email body."""
    query = PIXEL_QUERY if verify_requester else "ticket_id={{ticket.id}}&sent={{ticket.updated_at_with_timestamp}}"
    return f'<img src="{public_url}/pixel.gif?{query}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'


def register(app: Flask) -> None:
    """Add the commands to the app's CLI."""
    app.cli.add_command(img_tag_command)
    app.cli.add_command(check_zendesk_command)
    app.cli.add_command(refresh_ranges_command)
    app.cli.add_command(sign_url_command)
    app.cli.add_command(rewrite_html_command)
    app.cli.add_command(erase_command)
    app.cli.add_command(db)
    app.cli.add_command(explain_command)
    app.cli.add_command(dead_letters)
    app.cli.add_command(opt_out_commands)
    add_zendesk_app_commands(app)


@click.command("img-tag")
@with_appcontext
def img_tag_command() -> None:
    """Print the img tag to paste into the Zendesk trigger's email body."""
    settings = current_app.extensions["settings"]
    warning = public_url_warning(settings.public_url)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(img_tag(settings.public_url, settings.verify_requester))
    print_opt_out_footer(settings)


def public_url_warning(public_url: str) -> str:
    """Why mail clients may not load the pixel from PUBLIC_URL, or '' when nothing is seen wrong."""
    host = (urlsplit(public_url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost") or _is_loopback(host):
        return f"PUBLIC_URL is not set (or names this machine): mail clients cannot reach {public_url}."
    if host.rpartition(".")[2] in _EXAMPLE_TLDS or any(host == d or host.endswith("." + d) for d in _EXAMPLE_DOMAINS):
        return f"PUBLIC_URL names an example domain ({host}): set it to the address mail clients reach."
    if public_url.startswith("http://"):
        return "PUBLIC_URL uses plain http: some mail clients do not load images over it; use https (see README, Deploying)."
    return ""


def _is_loopback(host: str) -> bool:
    """Whether a host is an address of this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("check-zendesk")
@with_appcontext
def check_zendesk_command() -> None:
    """Check the Zendesk credentials against /api/v2/users/me.json."""
    settings = current_app.extensions["settings"]
    zendesk = current_app.extensions["zendesk"]
    if settings.dry_run:
        raise click.ClickException(
            "No Zendesk credentials are set, so notes are only logged. Set ZENDESK_SUBDOMAIN with "
            "ZENDESK_EMAIL and ZENDESK_API_TOKEN (or ZENDESK_OAUTH_TOKEN)."
        )
    answer = zendesk.me()
    user = (answer.body or {}).get("user") or {}
    if answer.verdict == ZendeskVerdict.OK and user.get("id") and user.get("role") in ("agent", "admin"):
        click.echo(f"OK: {settings.zendesk_url} accepts the credentials of {_named(user)}, {user['role']}.")
        return
    raise click.ClickException(_diagnose(answer, user, settings.zendesk_url))


def _named(user: dict) -> str:
    """A Zendesk user as `Name <email>`, or just the email when the user has no name."""
    name, email = (user.get("name") or "").strip(), user.get("email") or "(no email)"
    return f"{name} <{email}>" if name else email


def _diagnose(answer, user: dict, url: str) -> str:
    """Say what is wrong with the Zendesk connection, and what to do."""
    if answer.status is None:
        return f"Cannot reach {url}: {answer.describe()}. Check ZENDESK_SUBDOMAIN (or ZENDESK_URL) and the network."
    if answer.status == 401:
        return (
            "Zendesk refused the credentials (401). Check ZENDESK_EMAIL and ZENDESK_API_TOKEN (or "
            "ZENDESK_OAUTH_TOKEN), and that token access is on in Admin Center > Apps and integrations > Zendesk API."
        )
    if answer.status == 403:
        return "Zendesk accepted the login but forbids this (403): the user must be an agent or admin allowed to use the API."
    if answer.status == 404:
        return f"{url} has no Zendesk API (404): check ZENDESK_SUBDOMAIN."
    if answer.verdict == ZendeskVerdict.OK:
        role = user.get("role") or "anonymous"
        return f"Zendesk answered as a {role} user, not an agent: check ZENDESK_EMAIL and the token."
    return f"Zendesk answered {answer.describe()}; try again later."


@click.command("refresh-ranges")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME=URL_OR_FILE",
    help="Fetch only NAME (apple, microsoft or scanners), from elsewhere: your own list, say.",
)
@with_appcontext
def refresh_ranges_command(sources: tuple[str, ...]) -> None:
    """Fetch address ranges into LOCAL_RANGES_DIR, added to the shipped ones (the service itself never downloads)."""
    wanted = {} if sources else dict(openers.RANGE_SOURCES)
    for item in sources:
        name, _, where = item.partition("=")
        if not where or name not in openers.RANGE_NAMES:
            names = ", ".join(openers.RANGE_NAMES)
            raise click.BadParameter(f"use NAME=URL_OR_FILE, NAME one of {names} (got {item!r})", param_hint="--source")
        wanted[name] = where
    directory = Path(current_app.extensions["settings"].local_ranges_dir)
    for name, where in wanted.items():
        text = _read_source(where)
        networks = openers.networks_in(text)
        if not networks:
            raise click.ClickException(f"{where} holds no address ranges; {directory / name}.txt is left as it was.")
        path = openers.write_ranges(name, networks, where, date.today().isoformat(), directory)
        click.echo(f"{path}: {len(networks)} networks from {where}, added to the shipped {name} ranges")


def _read_source(where: str) -> str:
    """Read a range list from a URL or a local file."""
    if not where.startswith(("http://", "https://")):
        return Path(where).read_text()
    try:
        response = requests.get(where, timeout=(5, 60))
        response.raise_for_status()
    except requests.RequestException as error:
        raise click.ClickException(f"Cannot download {where}: {error}") from None
    return response.text


def _tracker_or_fail():
    """The app's tracker, or a clear error when tracking links are off."""
    tracker = current_app.extensions["tracker"]
    if tracker is None:
        raise click.ClickException("TRACKING_KEYS is not set: tracking links are off. See README, Settings.")
    return tracker


def _meta(pairs: tuple[str, ...]) -> dict:
    """Parse repeated KEY=VALUE options."""
    meta = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"use KEY=VALUE (got {pair!r})", param_hint="--meta")
        meta[key] = value
    return meta


@click.command("sign-url")
@click.option("--click", "target", metavar="URL", help="Make a click link to URL instead of an open pixel.")
@click.option("--meta", "pairs", multiple=True, metavar="KEY=VALUE", help="Metadata to carry (repeatable).")
@click.option(
    "--expires-days", type=click.FloatRange(min=0, min_open=True), help="Refuse the link after this many days."
)
@click.option("--opt-out", is_flag=True, help="Make the opt-out link of the recipient in --meta recipient=...")
@with_appcontext
def sign_url_command(target: str | None, pairs: tuple[str, ...], expires_days: float | None, opt_out: bool) -> None:
    """Print a signed tracking URL (needs TRACKING_KEYS)."""
    tracker = _tracker_or_fail()
    meta = _meta(pairs)
    expires_in = expires_days * 86400 if expires_days else None
    if opt_out and not meta.get("recipient"):
        raise click.BadParameter("an opt-out link needs --meta recipient=...", param_hint="--meta")
    try:
        if opt_out:
            url = tracker.opt_out_url(meta, expires_in)
        else:
            url = tracker.click_url(target, meta, expires_in) if target else tracker.open_url(meta, expires_in)
    except TargetError as error:
        raise click.BadParameter(str(error), param_hint="--click") from None
    except MetaTooLong as error:
        raise click.BadParameter(str(error), param_hint="--meta") from None
    click.echo(url)


@click.command("rewrite-html")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--meta", "pairs", multiple=True, metavar="KEY=VALUE", help="Metadata every link carries (repeatable).")
@click.option("--pixel", type=click.Choice(["top", "bottom", "none"]), default="top", show_default=True)
@click.option("--no-links", is_flag=True, help="Add the pixel only; leave links alone.")
@with_appcontext
def rewrite_html_command(source, pairs: tuple[str, ...], pixel: str, no_links: bool) -> None:
    """Print an HTML email (SOURCE, or - for stdin) with the open pixel and tracked links."""
    click.echo(rewrite_html(source.read(), _tracker_or_fail(), _meta(pairs), pixel, not no_links), nl=False)


@click.command("erase")
@click.option("--ticket", "ticket_id", type=click.IntRange(min=1), help="Everything stored for this ticket.")
@click.option("--requester", "requester_id", type=click.IntRange(min=1), help="Everything for this requester.")
@click.option(
    "--meta", "pairs", multiple=True, metavar="KEY=VALUE", help="Tracking-link events whose metadata matches."
)
@with_appcontext
def erase_command(ticket_id: int | None, requester_id: int | None, pairs: tuple[str, ...]) -> None:
    """Delete everything stored for a ticket, a requester or a campaign, and say what was deleted."""
    if ticket_id is None and requester_id is None and not pairs:
        raise click.UsageError("say what to erase: --ticket, --requester or --meta (e.g. --meta campaign=november)")
    removed = current_app.extensions["store"].privacy.erase(ticket_id, requester_id, _meta(pairs))
    click.echo("Deleted: " + ", ".join(f"{count} {what}" for what, count in removed.items()) + ".")
