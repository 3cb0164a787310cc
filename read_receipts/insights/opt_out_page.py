"""The opt-out: the link under the pixel (and signed links' recipients), its page, and the admin's JSON API."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from read_receipts.delivery.opt_out_proof import Proof, requester_proof
from read_receipts.delivery.pacing import Pacing
from read_receipts.insights.errors import error_response
from read_receipts.insights.guards import login_required
from read_receipts.intake import pixel
from read_receipts.intake.opt_out_copy import recipient_of
from read_receipts.links.recorder import NO_STORE
from read_receipts.links.tokens import OPT_OUT_PREFIX, TokenError
from read_receipts.store.opt_outs import OptOut, OptOuts, RecipientOptOut

opt_out_page = Blueprint("opt_outs", __name__, template_folder="templates")

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
    return _page("ask", 200, action=PATH, fields={"ticket_id": pair[0], "requester_id": pair[1]})


@opt_out_page.post(PATH)
def confirm():
    """Stop tracking the requester once Zendesk says the ticket is theirs."""
    pair = _pair(request.form)
    if pair is None:
        return _page("invalid", 404)
    now = time.time()
    proof = requester_proof(current_app.extensions["store"].tickets, _pacing(), _settings(), *pair, now)
    if proof == Proof.UNKNOWN:
        return _page("later", 503, headers={"Retry-After": "60"})
    if proof == Proof.NOT_THEIRS:  # a forged or altered link: the same answer as any invalid one
        return _page("invalid", 404)
    opt_outs().add(pair[1], pair[0], now)
    return _page("done", 200)


@opt_out_page.get(f"{OPT_OUT_PREFIX}<path:token>")
def ask_recipient(token: str):
    """Ask a tracking link's recipient to confirm (a signed link of TRACKING_KEYS)."""
    if _recipient(token) is None:
        return _page("invalid", 404)
    return _page("ask", 200, action=request.path, fields={})


@opt_out_page.post(f"{OPT_OUT_PREFIX}<path:token>")
def confirm_recipient(token: str):
    """Stop tracking the recipient a signed opt-out link names: the signature is the proof."""
    recipient = _recipient(token)
    if recipient is None:
        return _page("invalid", 404)
    opt_outs().add_recipient(recipient, time.time())
    return _page("done", 200)


@opt_out_page.get("/api/opt-outs")
@login_required(api=True)
def api_list():
    """Every requester who opted out, newest first."""
    listed = opt_outs()
    return jsonify(
        items=[_item(opt_out) for opt_out in listed.listing()],
        recipients=[_recipient_item(opt_out) for opt_out in listed.recipients()],
    )


@opt_out_page.delete("/api/opt-outs/<int:requester_id>")
@login_required(api=True)
def api_revoke(requester_id: int):
    """Track a requester again."""
    if pixel.zendesk_id(str(requester_id)) is None or not opt_outs().revoke(requester_id):
        return error_response(404, f"requester {requester_id} has not opted out")
    return jsonify(revoked=requester_id), 200


@opt_out_page.delete("/api/opt-outs/recipients/<path:recipient>")
@login_required(api=True)
def api_revoke_recipient(recipient: str):
    """Track a tracking-link recipient again."""
    if not opt_outs().revoke_recipient(recipient):
        return error_response(404, "that recipient has not opted out")
    return jsonify(revoked=recipient), 200


def _settings():
    return current_app.extensions["settings"]


def _pacing() -> Pacing:
    """This process's pacing of the Zendesk calls opt-outs make (the budgets are shared through the store)."""
    extensions = current_app.extensions
    if "opt_out_pacing" not in extensions:
        extensions["opt_out_pacing"] = Pacing(
            extensions["store"].budgets, extensions["store"].tallies, extensions["zendesk"], extensions["settings"]
        )
    return extensions["opt_out_pacing"]


def _pair(fields) -> tuple[int, int] | None:
    """The (ticket, requester) a link names; None when either is missing, a placeholder or not an id."""
    ticket_id, requester_id = pixel.zendesk_id(fields.get("ticket_id")), pixel.zendesk_id(fields.get("requester_id"))
    return None if ticket_id is None or requester_id is None else (ticket_id, requester_id)


def _recipient(token: str) -> str | None:
    """The recipient a signed opt-out link names; None for anything else."""
    tracker = current_app.extensions["tracker"]
    if tracker is None:
        return None
    try:
        return recipient_of(tracker.decode(token).meta)
    except TokenError:
        return None


def _page(step: str, status: int, headers: dict | None = None, **values) -> Response:
    """A plain page of the opt-out, never kept by a cache."""
    html = render_template("opt_out.html", step=step, title=TITLES[step], **values)
    return Response(html, status, {**NO_STORE, **(headers or {})}, mimetype="text/html")


def _item(opt_out: OptOut) -> dict:
    """One opt-out as the API shows it."""
    return {
        "requester_id": opt_out.requester_id,
        "ticket_id": opt_out.ticket_id,
        "opted_out_at": when(opt_out.opted_out_at),
    }


def _recipient_item(opt_out: RecipientOptOut) -> dict:
    """One recipient's opt-out as the API shows it."""
    return {"recipient": opt_out.recipient, "opted_out_at": when(opt_out.opted_out_at)}


def when(moment: float) -> str:
    """A time as ISO 8601, in UTC."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
