"""Tracking-link events (opens and clicks), their dispatch, and the replies Zendesk says it sent."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Row

from read_receipts.store.database import Database, insert_ignore
from read_receipts.store.rollups import add_counts
from read_receipts.store.schema import campaign_events, events, opens, replies_sent, webhooks


class EventStore(Database):
    """Reads and writes of tracking events and of replies sent."""

    def events(self, kind: str | None = None) -> Sequence[Row]:
        """Return stored tracking events, oldest first."""
        query = select(events).order_by(events.c.id)
        with self.reading() as conn:
            return conn.execute(query.where(events.c.kind == kind) if kind else query).all()

    def new_events(self, limit: int) -> Sequence[Row]:
        """Return tracking events not yet dispatched (to webhooks and ticket opens), oldest first."""
        with self.reading() as conn:
            return conn.execute(select(events).where(events.c.state == "new").order_by(events.c.id).limit(limit)).all()

    def dispatch_events(
        self,
        calls: dict[int, list[dict]],
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
                    .where(events.c.id.in_(list(calls)), events.c.state == "new")
                    .values(state="queued")
                    .returning(events.c.id)
                ).scalars()
            )
            rows = [{**call, "created_at": now, "due_at": now} for event_id in moved for call in calls[event_id]]
            if rows:
                conn.execute(insert(webhooks), rows)
            proven = [{"signed": True, **ticket_opens[event_id]} for event_id in moved if event_id in ticket_opens]
            if proven:
                conn.execute(insert(opens), proven)
            campaigns = _campaign_counts(moved, campaign_of, kinds_of)
            add_counts(conn, campaign_events, ("campaign", "kind"), campaigns)
            if moved:  # the full address was needed only to label the event
                keep = update(events).where(events.c.id == bindparam("i")).values(ip=bindparam("a"))
                conn.execute(keep, [{"i": event_id, "a": kept_ips[event_id]} for event_id in moved])

    def record_reply_sent(self, ticket_id: int, reply_key: int, sent_at: float) -> bool:
        """Remember a reply Zendesk says it sent; False if it was known already."""
        with self.engine.begin() as conn:
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
