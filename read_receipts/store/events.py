"""Tracking-link events (opens and clicks), their dispatch, and the replies Zendesk says it sent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update

from read_receipts.store.database import Database, Record, insert_ignore, update_rows
from read_receipts.store.opens import add_proven
from read_receipts.store.reply_statuses import sent
from read_receipts.store.rollups import add_counts
from read_receipts.store.schema import campaign_events, events, replies_sent
from read_receipts.store.webhook_calls import Call, queue_calls


class EventState(StrEnum):
    """Where a tracking-link event is: waiting for dispatch, or dispatched."""

    NEW = "new"
    QUEUED = "queued"  # its webhook calls and the ticket open it proves are queued
    DEAD = "dead"  # dispatch failed on it: see error


@dataclass(frozen=True)
class Event(Record):
    """One tracking-link open or click."""

    id: int
    kind: str  # open | click
    occurred_at: float
    ip: str | None
    user_agent: str | None
    meta: str  # the link's metadata, as JSON
    target: str | None  # where a click went
    state: str
    error: str | None


class Events(Database):
    """Reads and dispatch of tracking events, and the replies Zendesk says it sent."""

    def all(self, kind: str | None = None) -> list[Event]:
        """Return stored tracking events, oldest first."""
        query = select(events).order_by(events.c.id)
        with self.reading() as conn:
            return [Event.of(row) for row in conn.execute(query.where(events.c.kind == kind) if kind else query)]

    def new(self, limit: int) -> list[Event]:
        """Return tracking events not yet dispatched (to webhooks and ticket opens), oldest first."""
        query = select(events).where(events.c.state == EventState.NEW).order_by(events.c.id).limit(limit)
        with self.reading() as conn:
            return [Event.of(row) for row in conn.execute(query)]

    def dispatch(
        self,
        calls: dict[int, list[Call]],
        ticket_opens: dict[int, dict],
        kept_ips: dict[int, str | None],
        now: float,
        campaign_of: dict[int, str] | None = None,
        kinds_of: dict[int, str] | None = None,
    ) -> None:
        """Move events out of `new`: queue their webhook calls and the ticket opens they prove, once."""
        campaign_of, kinds_of = campaign_of or {}, kinds_of or {}
        with self.engine.begin() as conn:
            moved = list(
                conn.execute(
                    update(events)
                    .where(events.c.id.in_(list(calls)), events.c.state == EventState.NEW)
                    .values(state=EventState.QUEUED)
                    .returning(events.c.id)
                ).scalars()
            )
            queue_calls(conn, [call for event_id in moved for call in calls[event_id]], now)
            add_proven(conn, [ticket_opens[event_id] for event_id in moved if event_id in ticket_opens])
            campaigns = _campaign_counts(moved, campaign_of, kinds_of)
            add_counts(conn, campaign_events, ("campaign", "kind"), campaigns)
            # The full address was needed only to label the event (one statement for the batch).
            update_rows(conn, events, "id", [{"id": event_id, "ip": kept_ips[event_id]} for event_id in moved])

    def record_reply_sent(
        self,
        ticket_id: int,
        reply_key: int,
        sent_at: float,
        agent_id: int | None = None,
        agent_name: str | None = None,
        group: tuple[int, str | None] | None = None,
    ) -> bool:
        """Remember a reply Zendesk says it sent, who replied and the ticket's group; False if it was known already."""
        with self.engine.begin() as conn:
            sent(conn, ticket_id, reply_key, sent_at, agent_id, agent_name, group)
            return insert_ignore(conn, replies_sent, ticket_id=ticket_id, reply_key=reply_key, sent_at=sent_at)


def _campaign_counts(
    moved: list[int], campaign_of: dict[int, str], kinds_of: dict[int, str]
) -> dict[tuple[str, str], int]:
    """Count the moved events of each (campaign, kind); events of no campaign are left out."""
    campaigns: dict[tuple[str, str], int] = {}
    for event_id in moved:
        if campaign_of.get(event_id):
            key = (campaign_of[event_id], kinds_of[event_id])
            campaigns[key] = campaigns.get(key, 0) + 1
    return campaigns
