"""The agent's browser telling the service its address, and the admin's page of learned addresses."""

from __future__ import annotations

import ipaddress
import logging
import time

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request

from read_receipts.insights.errors import error_response
from read_receipts.insights.guards import login_required, same_origin
from read_receipts.intake import pixel
from read_receipts.links.agent_passes import AgentPasses
from read_receipts.store import agent_addresses as addresses

log = logging.getLogger(__name__)
agents_board = Blueprint("agents", __name__, template_folder="templates")
SEEN_BODY_MAX = 2048  # `agent=<id>&pass=<pass>` is under 200 bytes


def _settings():
    return current_app.extensions["settings"]


def _store():
    return current_app.extensions["store"]


def agent_passes() -> AgentPasses | None:
    """The pass signer (keyed by API_TOKEN, which only the Zendesk proxy holds), or None without one."""
    settings = _settings()
    if not settings.api_token or not settings.agent_learning:
        return None
    return current_app.extensions.get("agent_passes") or AgentPasses(settings.api_token)


def _refused(status: int, message: str) -> Response:
    """Answer a refusal in the service's one JSON error shape."""
    return error_response(status, message)


@agents_board.post("/agents/seen")
def agent_seen():
    """An agent's browser presents its pass: remember the address it came from as an agent's."""
    passes = agent_passes()
    if passes is None:
        return _refused(404, "learning agents' addresses is off (AGENT_LEARNING, API_TOKEN)")
    request.max_content_length = SEEN_BODY_MAX
    agent_id = pixel.zendesk_id(request.form.get("agent", ""))
    genuine = passes.read(request.form.get("pass", ""), agent_id)
    address = addresses.normal_address(request.remote_addr)
    if genuine is None or address is None:
        return _refused(403, "not a pass of this agent, or expired")
    if ipaddress.ip_address(address).is_loopback:  # a reverse proxy on this host, with PROXY_HOPS unset
        log.warning("an agent's pass came from %s, a loopback address: set PROXY_HOPS behind a proxy", address)
        return _refused(403, "this request came through a proxy the service does not count: set PROXY_HOPS")
    now = time.time()
    if not addresses.use_pass(_store(), genuine.pass_id, now, passes.seconds):
        return _refused(403, "this pass was used already")
    settings = _settings()
    state = addresses.learn(_store(), address, genuine.agent_id, now, settings.agent_address_days, settings.ip_storage)
    return jsonify(address=address, state=state), 200


@agents_board.get("/dashboard/agents")
@login_required(api=False)
def agents_page():
    """The learned agent addresses, flagged ones first, with forget and confirm buttons."""
    settings = _settings()
    learned = addresses.listing(_store(), time.time(), settings.agent_address_days)
    return render_template("agents.html", learned=learned, settings=settings, moment=_moment)


@agents_board.post("/dashboard/agents/<action>")
@login_required(api=False)
def agents_action(action: str):
    """Forget or confirm one learned address, from the dashboard's own page only."""
    if action not in ("forget", "confirm"):
        abort(404, "no such action")
    if not same_origin():
        abort(403, "send this form from the dashboard's own page")
    address = addresses.normal_address(request.form.get("address", ""))
    if address is None:
        abort(400, "address must be an IP address")
    done = (addresses.forget if action == "forget" else addresses.confirm)(_store(), address)
    if not done:
        abort(404, f"{address} is not a learned agent address")
    return redirect("/dashboard/agents", code=303)


def _moment(stamp: float) -> str:
    """A time as the dashboard shows it."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))
