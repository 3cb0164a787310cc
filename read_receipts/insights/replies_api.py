"""The replies' statuses as JSON: `GET /api/replies` (filtered, paged) and `GET /api/tickets/<id>/replies`."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request

from read_receipts.insights.api import moment as _time  # the API's one parser of ids and times
from read_receipts.insights.api import whole as _int
from read_receipts.insights.errors import error_response
from read_receipts.insights.guards import login_required as _login
from read_receipts.intake import pixel
from read_receipts.store.reply_statuses import ReplyFilter, ReplyState, ReplyStatus

replies_api = Blueprint("replies_api", __name__)
PAGE_MAX = 1000
PAGE_DEFAULT = 100
TICKET_REPLIES_MAX = 100  # the newest replies of one ticket


def _error(message: str, status: int = 400):
    """The API's one error shape."""
    return error_response(status, message)


@replies_api.get("/api/replies")
@_login(api=True)
def listing():
    """Replies with their status, by status, agent, ticket and time, a page at a time."""
    try:
        wanted, after_id, limit = _asked()
    except ValueError as error:
        return _error(str(error))
    found = current_app.extensions["store"].replies.listing(wanted, after_id, limit)
    return jsonify(
        items=[{"id": state.id, "ticket_id": state.ticket_id, **described(state)} for state in found],
        next_after_id=found[-1].id if len(found) == limit else None,
    )


@replies_api.get("/api/tickets/<int:ticket_id>/replies")  # answers before the sidebar's older route
@_login(api=True)
def of_ticket(ticket_id: int):
    """Each reply of a ticket with its status, newest first, and the ticket's page on the dashboard."""
    parsed = pixel.zendesk_id(str(ticket_id))
    if parsed is None:
        return _error("the ticket id must be a Zendesk id, e.g. 42", 404)
    found = current_app.extensions["store"].replies.statuses(parsed, TICKET_REPLIES_MAX)
    public_url = current_app.extensions["settings"].public_url
    return jsonify(
        ticket_id=parsed,
        dashboard_url=f"{public_url}/dashboard/tickets/{parsed}",
        replies=[described(state) for state in found],
    )


def described(state: ReplyState) -> dict:
    """One reply as the API shows it."""
    return {
        "reply": state.reply_key or None,
        "sent_at": _iso(state.sent_at if state.sent_at is not None else state.written_at),
        "author": state.author,
        "agent_id": state.agent_id,
        "status": state.status,
        "first_read_at": _iso(state.first_read_at),
        "reads": state.reads,
        "client": state.client,
        "ccs": state.ccs,
    }


def _asked() -> tuple[ReplyFilter, int, int]:
    """Read the filters, the cursor and the page size; ValueError names what is wrong and what is allowed."""
    args = request.args
    status = args.get("status") or None
    if status is not None and status not in {s.value for s in ReplyStatus}:
        raise ValueError(f"status must be one of {', '.join(ReplyStatus)} (got {status!r})")
    limit = _int(args.get("limit"), "limit") or PAGE_DEFAULT
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be a whole number from 1 to {PAGE_MAX}")
    wanted = ReplyFilter(
        status=ReplyStatus(status) if status else None,
        agent_id=_int(args.get("agent_id"), "agent_id"),
        ticket_id=_int(args.get("ticket_id"), "ticket_id"),
        since=_time(args.get("since"), "since"),
        until=_time(args.get("until"), "until"),
    )
    return wanted, _int(args.get("after_id"), "after_id") or 0, limit


def _iso(stamp: float | None) -> str | None:
    """A Unix time as ISO 8601 UTC, or None."""
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z") if stamp is not None else None
