"""The requester's opt-out: the link under the pixel, its page, and the admin's list (JSON API and CLI)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from read_receipts.delivery.opt_out_proof import Proof, requester_proof
from read_receipts.delivery.pacing import Pacing
from read_receipts.insights.dashboard import _login
from read_receipts.intake import pixel
from read_receipts.links.recorder import NO_STORE
from read_receipts.store.opt_outs import OptOut, OptOuts

opt_out_page = Blueprint("opt_outs", __name__, template_folder="templates", cli_group="opt-outs")

PATH = "/opt-out"
# Zendesk fills these in when it sends the email: the link cannot be signed per requester (see README, Opt-out).
LINK_QUERY = "ticket_id={{ticket.id}}&requester_id={{ticket.requester.id}}"
FOOTER = (
    '<p style="font-size:12px;color:#6a737d">We see when this email is opened, to know our reply reached you. '
    '<a href="{url}">Stop read receipts</a></p>'
)
TITLES = {
    "ask": "Stop read receipts?",
    "done": "Read receipts are off for you",
    "later": "Please try again in a few minutes",
    "invalid": "This link is not valid",
}


def opt_out_link(public_url: str) -> str:
    """The footer, with the opt-out link, to paste under the img tag in the Zendesk trigger."""
    return FOOTER.format(url=f"{public_url}{PATH}?{LINK_QUERY}")


def print_opt_out_footer(settings) -> None:
    """Print the opt-out footer for `img-tag`, and what stops it working."""
    click.echo(opt_out_link(settings.public_url))
    if not settings.verify_requester:
        click.echo(
            "Note: with VERIFY_REQUESTER=false the image carries no requester id, so its loads cannot be matched "
            "to an opt-out; add &requester_id={{ticket.requester.id}} to its URL.",
            err=True,
        )


def opt_outs() -> OptOuts:
    """This process's opt-out list."""
    extensions = current_app.extensions
    if "opt_outs" not in extensions:
        settings = extensions["settings"]
        extensions["opt_outs"] = OptOuts(extensions["store"].engine, settings.spool_dir, settings.opt_out_requesters)
    return extensions["opt_outs"]


@opt_out_page.get(PATH)
def ask():
    """Ask the requester to confirm: a GET changes nothing, as link scanners follow every link."""
    pair = _pair(request.args)
    if pair is None:
        return _page("invalid", 404)
    return _page("ask", 200, ticket_id=pair[0], requester_id=pair[1])


@opt_out_page.post(PATH)
def confirm():
    """Stop tracking the requester once Zendesk says the ticket is theirs."""
    pair = _pair(request.form)
    if pair is None:
        return _page("invalid", 404)
    now = time.time()
    proof = requester_proof(current_app.extensions["store"], _pacing(), _settings(), *pair, now)
    if proof == Proof.UNKNOWN:
        return _page("later", 503, headers={"Retry-After": "60"})
    if proof == Proof.NOT_THEIRS:  # a forged or altered link: the same answer as any invalid one
        return _page("invalid", 404)
    opt_outs().add(pair[1], pair[0], now)
    return _page("done", 200)


@opt_out_page.get("/api/opt-outs")
@_login(api=True)
def api_list():
    """Every requester who opted out, newest first."""
    return jsonify(items=[_item(opt_out) for opt_out in opt_outs().listing()])


@opt_out_page.delete("/api/opt-outs/<int:requester_id>")
@_login(api=True)
def api_revoke(requester_id: int):
    """Track a requester again."""
    if not opt_outs().revoke(requester_id):
        return jsonify(error={"status": 404, "message": f"requester {requester_id} has not opted out"}), 404
    return jsonify(revoked=requester_id), 200


@opt_out_page.cli.command("list")
def list_command() -> None:
    """Print every requester who opted out, newest first."""
    listed = opt_outs().listing()
    for opt_out in listed:
        source = f"from ticket {opt_out.ticket_id}" if opt_out.ticket_id else "added by an admin"
        click.echo(f"{opt_out.requester_id}\t{_when(opt_out.opted_out_at)}\t{source}")
    if not listed:
        click.echo("No requester has opted out.")


@opt_out_page.cli.command("revoke")
@click.argument("requester_id", type=click.IntRange(min=1))
def revoke_command(requester_id: int) -> None:
    """Track REQUESTER_ID again (their later loads get notes)."""
    if not opt_outs().revoke(requester_id):
        raise click.ClickException(f"requester {requester_id} has not opted out")
    click.echo(f"Requester {requester_id} is tracked again.")


@opt_out_page.cli.command("add")
@click.argument("requester_id", type=click.IntRange(min=1))
def add_command(requester_id: int) -> None:
    """Stop tracking REQUESTER_ID (who asked by other means than the link)."""
    added = opt_outs().add(requester_id, None, time.time())
    click.echo(f"Requester {requester_id} {'is' if added else 'was already'} not tracked.")


def _settings():
    return current_app.extensions["settings"]


def _pacing() -> Pacing:
    """This process's pacing of the Zendesk calls opt-outs make (the budgets are shared through the store)."""
    extensions = current_app.extensions
    if "opt_out_pacing" not in extensions:
        extensions["opt_out_pacing"] = Pacing(extensions["store"], extensions["zendesk"], extensions["settings"])
    return extensions["opt_out_pacing"]


def _pair(fields) -> tuple[int, int] | None:
    """The (ticket, requester) a link names; None when either is missing, a placeholder or not an id."""
    ticket_id, requester_id = pixel.zendesk_id(fields.get("ticket_id")), pixel.zendesk_id(fields.get("requester_id"))
    return None if ticket_id is None or requester_id is None else (ticket_id, requester_id)


def _page(step: str, status: int, headers: dict | None = None, **values) -> Response:
    """A plain page of the opt-out, never kept by a cache."""
    html = render_template("opt_out.html", step=step, title=TITLES[step], **values)
    return Response(html, status, {**NO_STORE, **(headers or {})}, mimetype="text/html")


def _item(opt_out: OptOut) -> dict:
    """One opt-out as the API shows it."""
    return {
        "requester_id": opt_out.requester_id,
        "ticket_id": opt_out.ticket_id,
        "opted_out_at": _when(opt_out.opted_out_at),
    }


def _when(moment: float) -> str:
    """A time as ISO 8601, in UTC."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
