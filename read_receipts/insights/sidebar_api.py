"""The JSON the Zendesk sidebar app reads: each reply's status for a ticket, and agent passes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import func, select

from read_receipts.insights.agents_page import agent_passes, agents_board
from read_receipts.insights.guards import login_required
from read_receipts.intake import pixel
from read_receipts.labels.openers import AGENT, APPLE_PRELOAD, PERSON
from read_receipts.store.database import Database
from read_receipts.store.schema import opens, replies, replies_sent

sidebar = Blueprint("sidebar", __name__)
sidebar.register_blueprint(agents_board)
REPLIES_MAX = 100  # the newest replies of a ticket the sidebar lists
# Loads whose requester Zendesk verified (or a signed link proved): the others say nothing about this ticket.
VERIFIED_STATES = ("counted", "noted", "skipped", "closed", "deleted")


class ReplyStatus(StrEnum):
    """What the store knows about who loaded a reply's images."""

    READ = "read"  # a person read it
    PRELOADED = "preloaded"  # Apple Mail Privacy Protection fetched it: delivered to Apple Mail, maybe unread
    MACHINES = "machines"  # only machines (scanners, prefetches, bots) loaded it
    NOT_OPENED = "not_opened"  # sent, nothing loaded yet


@dataclass
class ReplyLoads:
    """One reply's verified loads, counted by kind, as the store has them."""

    reply: int | None
    sent_at: float | None = None
    kinds: dict[str, int] = field(default_factory=dict)
    first_read_at: float | None = None
    client: str | None = None  # of the first read by a person


def reply_status(loads: ReplyLoads) -> ReplyStatus:
    """Say what a reply's loads amount to: a person's read outranks a preload, which outranks machines."""
    if loads.kinds.get(PERSON):
        return ReplyStatus.READ
    if loads.kinds.get(APPLE_PRELOAD):
        return ReplyStatus.PRELOADED
    if any(loads.kinds.values()):
        return ReplyStatus.MACHINES
    return ReplyStatus.NOT_OPENED


def ticket_replies(store: Database, ticket_id: int) -> list[ReplyLoads]:
    """The ticket's replies (sent or loaded), newest first, with their verified loads."""
    found: dict[int, ReplyLoads] = {}
    with store.reading() as conn:
        for key, sent_at in conn.execute(
            select(replies_sent.c.reply_key, replies_sent.c.sent_at).where(replies_sent.c.ticket_id == ticket_id)
        ):
            found[key] = ReplyLoads(key or None, sent_at)
        # Key 0 holds the opens of replies not named, under whatever id their pixel carried: those come below.
        named = select(replies.c.reply_key, replies.c.sent_at).where(
            replies.c.ticket_id == ticket_id, replies.c.reply_key != 0
        )
        for key, sent_at in conn.execute(named):
            loads = found.setdefault(key, ReplyLoads(key))
            loads.sent_at = loads.sent_at or sent_at
        groups = (
            select(
                opens.c.comment_id,
                opens.c.kind,
                opens.c.client,
                func.count(),
                func.min(opens.c.opened_at),
                func.min(opens.c.sent),
            )
            .where(opens.c.ticket_id == ticket_id, opens.c.state.in_(VERIFIED_STATES), opens.c.kind != AGENT)
            .group_by(opens.c.comment_id, opens.c.kind, opens.c.client)
        )
        _add_loads(found, conn.execute(groups))
    newest = sorted(found.values(), key=lambda r: (r.sent_at or 0, r.reply or 0), reverse=True)
    return newest[:REPLIES_MAX]


def _add_loads(found: dict[int, ReplyLoads], groups: Iterable) -> None:
    """Count each (reply, kind, client) group into its reply; the first person's client names the read."""
    first_person: dict[int, float] = {}
    for comment_id, kind, client, count, first, sent in groups:
        loads = found.setdefault(comment_id or 0, ReplyLoads(comment_id))
        loads.kinds[kind] = loads.kinds.get(kind, 0) + count
        loads.sent_at = loads.sent_at or pixel.sent_time(sent or "")  # as the img tag said, when nothing else did
        if kind == PERSON and first < first_person.get(comment_id or 0, float("inf")):
            first_person[comment_id or 0] = first
            loads.client, loads.first_read_at = client, first


def _iso(stamp: float | None) -> str | None:
    """A Unix time as ISO 8601 UTC, or None."""
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z") if stamp is not None else None


def _described(loads: ReplyLoads) -> dict:
    """One reply as the sidebar app reads it."""
    return {
        "reply": loads.reply,
        "sent_at": _iso(loads.sent_at),
        "author": None,  # Zendesk's comment author: not stored yet
        "status": reply_status(loads),
        "first_read_at": _iso(loads.first_read_at),
        "reads": loads.kinds.get(PERSON, 0),
        "client": loads.client,
        "ccs": 0,  # who else the email went to: not stored yet
    }


@sidebar.get("/api/tickets/<int:ticket_id>/replies")
@login_required(api=True)
def replies_of_ticket(ticket_id: int):
    """Each reply of a ticket with its status, and the ticket's page on the dashboard."""
    if pixel.zendesk_id(str(ticket_id)) is None:
        abort(404, "no such ticket")
    public_url = current_app.extensions["settings"].public_url
    found = ticket_replies(current_app.extensions["store"], ticket_id)
    return jsonify(
        ticket_id=ticket_id,
        dashboard_url=f"{public_url}/dashboard/tickets/{ticket_id}",
        replies=[_described(loads) for loads in found],
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
