"""What is kept of a reader: the address as IP_STORAGE says, for as long as RETENTION_DAYS says, until erased."""

from __future__ import annotations

import ipaddress
import json

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from read_receipts.store.database import Database
from read_receipts.store.deliveries import DeliveryState
from read_receipts.store.events import EventState
from read_receipts.store.opens import OpenState
from read_receipts.store.schema import (
    comments,
    deliveries,
    events,
    opens,
    replies,
    reply_statuses,
    ticket_updates,
    tickets,
    webhooks,
)
from read_receipts.store.ticket_updates import TicketUpdateState
from read_receipts.store.tickets import TicketStatus
from read_receipts.store.webhook_calls import WebhookState

IP_MODES = ("truncated", "full", "none")


class Privacy(Database):
    """Deletion of what is past retention, and erasure on request."""

    def purge(self, before: float) -> dict[str, int]:
        """Delete everything settled before a time (retention); return how many rows of each kind."""
        old = {
            "opens": (opens, opens.c.opened_at < before, opens.c.state != OpenState.NEW),
            "events": (events, events.c.occurred_at < before, events.c.state != EventState.NEW),
            "note deliveries": (
                deliveries,
                deliveries.c.created_at < before,
                deliveries.c.state != DeliveryState.PENDING,
            ),
            "webhook calls": (webhooks, webhooks.c.created_at < before, webhooks.c.state != WebhookState.PENDING),
            "replies": (replies, replies.c.last_open_at < before, replies.c.summary_pending.is_(False)),
            "reply statuses": (reply_statuses, reply_statuses.c.seen_at < before),
            "tickets": (tickets, tickets.c.checked_at < before, tickets.c.status != TicketStatus.CHECKING),
            # a ticket still carrying the unread tag keeps its row, so a later read can take the tag away
            "ticket updates": (
                ticket_updates,
                func.coalesce(ticket_updates.c.read_at, ticket_updates.c.unread_sent_at, 0) < before,
                ticket_updates.c.state != TicketUpdateState.PENDING,
                ticket_updates.c.tag_sent.is_(None),
            ),
        }
        with self.engine.begin() as conn:
            return {name: conn.execute(table.delete().where(*where)).rowcount for name, (table, *where) in old.items()}

    def erase(self, ticket_id: int | None = None, requester_id: int | None = None, meta: dict | None = None) -> dict:
        """Delete everything stored for a ticket, a requester or link metadata; return what was deleted."""
        with self.engine.begin() as conn:
            ticket_ids = {ticket_id} if ticket_id is not None else set()
            if requester_id is not None:
                owned = select(tickets.c.ticket_id).where(tickets.c.requester_id == requester_id)
                ticket_ids |= set(conn.execute(owned).scalars())
            event_ids = _events_matching(conn, ticket_ids, requester_id, meta or {})
            by_open = [opens.c.ticket_id.in_(ticket_ids)]
            if requester_id is not None:
                by_open.append(opens.c.requester_id == requester_id)
            removed = {
                "opens": conn.execute(opens.delete().where(or_(*by_open))).rowcount,
                "replies": conn.execute(replies.delete().where(replies.c.ticket_id.in_(ticket_ids))).rowcount,
                "note deliveries": conn.execute(
                    deliveries.delete().where(deliveries.c.ticket_id.in_(ticket_ids))
                ).rowcount,
                "reply statuses": conn.execute(
                    reply_statuses.delete().where(reply_statuses.c.ticket_id.in_(ticket_ids))
                ).rowcount,
                "comments": conn.execute(comments.delete().where(comments.c.ticket_id.in_(ticket_ids))).rowcount,
                "tickets": conn.execute(tickets.delete().where(tickets.c.ticket_id.in_(ticket_ids))).rowcount,
                "events": conn.execute(events.delete().where(events.c.id.in_(event_ids))).rowcount,
                "ticket updates": conn.execute(
                    ticket_updates.delete().where(ticket_updates.c.ticket_id.in_(ticket_ids))
                ).rowcount,
            }
        return removed


def kept_address(address: str | None, mode: str) -> str | None:
    """Return the address as it may be stored: whole, cut to its network (/24, /48), or not at all."""
    if mode == "full" or address is None:
        return address
    if mode == "none":
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None  # not an address: nothing worth keeping
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def _events_matching(conn: Connection, ticket_ids: set[int], requester_id: int | None, meta: dict) -> list[int]:
    """Ids of events whose link metadata names one of the tickets, the requester, or all of `meta`."""
    wanted_tickets = {str(ticket) for ticket in ticket_ids}
    found = []
    for event_id, raw in conn.execute(select(events.c.id, events.c.meta)):
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if (
            str(data.get("ticket_id", "")) in wanted_tickets
            or (requester_id is not None and str(data.get("requester_id", "")) == str(requester_id))
            # a key the link lacks, or holds null, matches nothing
            or (meta and all(data.get(key) is not None and str(data[key]) == str(value) for key, value in meta.items()))
        ):
            found.append(event_id)
    return found
