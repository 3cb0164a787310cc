"""The replies' statuses as JSON: `GET /api/replies`, filtered and paged (the sidebar's per-ticket list is its own)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request

from read_receipts.insights.api import choice, moment, whole
from read_receipts.insights.errors import BadRequest
from read_receipts.insights.guards import login_required
from read_receipts.store.reply_statuses import ReplyFilter, ReplyState, ReplyStatus

replies_api = Blueprint("replies_api", __name__)
PAGE_MAX = 1000
PAGE_DEFAULT = 100
STATUSES = tuple(ReplyStatus)
PARAMETERS = ("status", "agent_id", "ticket_id", "since", "until", "after_id", "limit")


@replies_api.get("/api/replies")
@login_required(api=True)
def listing():
    """Replies with their status, by status, agent, ticket and time, a page at a time."""
    wanted, after_id, limit = _asked()
    found = current_app.extensions["store"].replies.listing(wanted, after_id, limit)
    return jsonify(
        items=[{"id": state.id, "ticket_id": state.ticket_id, **described(state)} for state in found],
        next_after_id=found[-1].id if len(found) == limit else None,
    )


def described(state: ReplyState) -> dict:
    """One reply as the API (and the Zendesk sidebar app) shows it."""
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
    """Read the filters, the cursor and the page size; BadRequest names what is wrong and what is allowed."""
    args = request.args
    unknown = sorted(set(args) - set(PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r}", PARAMETERS)
    limit = whole(args.get("limit"), "limit")
    if limit is not None and not 1 <= limit <= PAGE_MAX:
        raise BadRequest(f"limit must be from 1 to {PAGE_MAX} (got {limit})")
    status = choice(args.get("status"), "status", STATUSES)
    wanted = ReplyFilter(
        status=ReplyStatus(status) if status else None,
        agent_id=whole(args.get("agent_id"), "agent_id"),
        ticket_id=whole(args.get("ticket_id"), "ticket_id"),
        since=moment(args.get("since"), "since"),
        until=moment(args.get("until"), "until"),
    )
    return wanted, whole(args.get("after_id"), "after_id") or 0, limit or PAGE_DEFAULT


def _iso(stamp: float | None) -> str | None:
    """A Unix time as ISO 8601 UTC, or None."""
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z") if stamp is not None else None
