"""The JSON the Zendesk sidebar app reads: each reply's status for a ticket, and agent passes."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from read_receipts.insights.agents_page import agent_passes, agents_board
from read_receipts.insights.guards import login_required
from read_receipts.insights.replies_api import described
from read_receipts.intake import pixel

sidebar = Blueprint("sidebar", __name__)
sidebar.register_blueprint(agents_board)
REPLIES_MAX = 100  # the newest replies of a ticket the sidebar lists


@sidebar.get("/api/tickets/<int:ticket_id>/replies")
@login_required(api=True)
def replies_of_ticket(ticket_id: int):
    """Each reply of a ticket with its status, and the ticket's page on the dashboard."""
    if pixel.zendesk_id(str(ticket_id)) is None:
        abort(404, "no such ticket")
    public_url = current_app.extensions["settings"].public_url
    found = current_app.extensions["store"].replies.statuses(ticket_id, REPLIES_MAX)  # each reply's status
    return jsonify(
        ticket_id=ticket_id,
        dashboard_url=f"{public_url}/dashboard/tickets/{ticket_id}",
        replies=[described(state) for state in found],
    )


@sidebar.get("/api/agents/pass")
@login_required(api=True)
def agent_pass():
    """A short-lived, single-use pass for one agent's browser to present at /agents/seen."""
    passes = agent_passes()
    if passes is None:
        abort(404, "learning agents' addresses is off: set API_TOKEN, and AGENT_LEARNING=true")
    agent_id = pixel.zendesk_id(request.args.get("agent_id", ""))
    if agent_id is None:
        abort(400, "agent_id must be the Zendesk user id of the agent, e.g. 1234")
    public_url = current_app.extensions["settings"].public_url
    response = jsonify(
        agent_id=agent_id,
        seen_url=f"{public_url}/agents/seen",
        expires_in=passes.seconds,
        **{"pass": passes.issue(agent_id)},
    )
    response.headers["Cache-Control"] = "no-store"
    return response
