"""The figures the dashboard and the API show, read from the store's rollups and indexes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from read_receipts.labels.openers import PERSON
from read_receipts.links.recorder import stored_meta_dict
from read_receipts.store.database import Database
from read_receipts.store.opens import NOT_READS
from read_receipts.store.schema import campaign_events, daily_opens, events, opens, replies, replies_sent

# Time from a reply to its first reading, in buckets people think in.
BUCKETS = ((3600, "under 1 h"), (4 * 3600, "1-4 h"), (86400, "4-24 h"), (3 * 86400, "1-3 days"), (None, "over 3 days"))
MACHINE_KINDS = ("apple_preload", "gmail_prefetch", "scanner", "bot")


@dataclass(frozen=True)
class Period:
    """A date range, first day to last day included (UTC)."""

    first: date
    last: date

    @property
    def start(self) -> float:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC).timestamp()

    @property
    def end(self) -> float:
        """The moment after the last day."""
        return self.start + ((self.last - self.first).days + 1) * 86400

    def days(self) -> list[str]:
        return [(self.first + timedelta(days=n)).isoformat() for n in range((self.last - self.first).days + 1)]


def period(first: str | None, last: str | None, today: date | None = None, span: int = 30) -> Period:
    """Read a date range from query values; the last `span` days by default, at most a year."""
    today = today or datetime.now(UTC).date()
    try:
        end = _day(last) or today
        start = _day(first) or end - timedelta(days=span - 1)
        start, end = min(start, end), max(start, end)
        return Period(max(start, end - timedelta(days=366)), end)
    except OverflowError:
        raise ValueError("from and to must be dates between 0002-01-01 and 9999-12-31") from None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def summary(store: Database, when: Period) -> dict:
    """Every figure of the dashboard's main page for a period."""
    with store.reading() as conn:
        per_day = {day: {"people": 0, "machines": 0} for day in when.days()}
        clients: dict[str, int] = {}
        not_reads: dict[str, int] = {}  # loads that proved nothing, by why
        rows = conn.execute(
            select(daily_opens.c.day, daily_opens.c.kind, daily_opens.c.client, daily_opens.c.count).where(
                daily_opens.c.day >= when.first.isoformat(), daily_opens.c.day <= when.last.isoformat()
            )
        )
        for day, kind, client, count in rows:
            if kind == PERSON:
                per_day[day]["people"] += count
                clients[client or "unknown"] = clients.get(client or "unknown", 0) + count
            elif kind in MACHINE_KINDS:
                per_day[day]["machines"] += count
            elif kind in NOT_READS:
                not_reads[kind] = not_reads.get(kind, 0) + count
        return {
            "opens_per_day": per_day,
            "clients": dict(sorted(clients.items(), key=lambda item: -item[1])),
            "replies": _replies(conn, when),
            "time_to_open": _time_to_open(conn, when),
            "recent": [_open_row(row) for row in conn.execute(select(opens).order_by(opens.c.id.desc()).limit(20))],
            "campaigns": _campaigns(conn),
            "not_counted": not_reads,
        }


def _replies(conn, when: Period) -> dict:
    """X of Y replies opened: Y from Zendesk's webhook, else the replies seen through their pixel."""
    sent = conn.execute(
        select(func.count()).where(replies_sent.c.sent_at >= when.start, replies_sent.c.sent_at < when.end)
    ).scalar_one()
    if sent:
        joined = replies_sent.join(
            replies,
            and_(replies.c.ticket_id == replies_sent.c.ticket_id, replies.c.reply_key == replies_sent.c.reply_key),
        )
        opened = conn.execute(
            select(func.count())
            .select_from(joined)
            .where(replies_sent.c.sent_at >= when.start, replies_sent.c.sent_at < when.end, replies.c.read_noted)
        ).scalar_one()
        return {"sent": sent, "opened": opened, "source": "zendesk"}
    seen = (replies.c.first_open_at >= when.start, replies.c.first_open_at < when.end)
    total, read = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((replies.c.read_noted, 1), else_=0)), 0)).where(*seen)
    ).one()
    return {"sent": total, "opened": read, "source": "pixel"}


def _time_to_open(conn, when: Period) -> dict:
    """Distribution and median of the time from a reply being sent to a person reading it."""
    sent_at = func.coalesce(replies.c.sent_at, replies_sent.c.sent_at)
    joined = replies.outerjoin(
        replies_sent,
        and_(replies.c.ticket_id == replies_sent.c.ticket_id, replies.c.reply_key == replies_sent.c.reply_key),
    )
    delay = replies.c.first_read_at - sent_at
    where = (
        replies.c.first_open_at >= when.start,
        replies.c.first_open_at < when.end,
        replies.c.first_read_at.is_not(None),
        sent_at.is_not(None),
    )
    lower = 0
    buckets = {}
    for upper, name in BUCKETS:
        bound = delay >= lower if upper is None else and_(delay >= lower, delay < upper)
        buckets[name] = conn.execute(select(func.count()).select_from(joined).where(*where, bound)).scalar_one()
        lower = upper or lower
    count = sum(buckets.values())
    median = None
    if count:
        median = conn.execute(
            select(delay).select_from(joined).where(*where).order_by(delay).offset((count - 1) // 2).limit(1)
        ).scalar()
    return {"buckets": buckets, "median_seconds": median, "count": count}


def _campaigns(conn) -> list[dict]:
    """Opens and clicks per campaign of tracking links."""
    found: dict[str, dict] = {}
    for campaign, kind, count in conn.execute(select(campaign_events)):
        found.setdefault(campaign, {"campaign": campaign, "open": 0, "click": 0})[kind] = count
    return sorted(found.values(), key=lambda row: -(row["open"] + row["click"]))


def _open_row(row) -> dict:
    """One open, as the API and the dashboard show it."""
    return {
        "id": row.id,
        "type": "open",
        "ticket_id": row.ticket_id,
        "requester_id": row.requester_id,
        "reply": row.comment_id,
        "at": _iso(row.opened_at),
        "kind": row.kind,
        "client": row.client,
        "state": row.state,
        "ip": row.ip,
    }


def _event_row(row) -> dict:
    """One tracking-link event, as the API shows it."""
    return {
        "id": row.id,
        "type": row.kind,
        "at": _iso(row.occurred_at),
        "meta": _meta(row.meta),
        "target": row.target,
        "ip": row.ip,
    }


def _meta(stored: str):
    """An event's metadata; a row stored broken by an older release shows as its raw text, not a 500."""
    try:
        return json.loads(stored)
    except ValueError:
        return {"unreadable": stored[:200]}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def timeline(store: Database, ticket_id: int) -> list[dict]:
    """A ticket's opens and link events, oldest first."""
    with store.reading() as conn:
        found = [_open_row(row) for row in conn.execute(select(opens).where(opens.c.ticket_id == ticket_id))]
        # LIKE narrows the rows down; the exact match is made on the parsed metadata.
        named = or_(
            events.c.meta.contains(f'"ticket_id": {ticket_id}', autoescape=True),
            events.c.meta.contains(f'"ticket_id": "{ticket_id}"', autoescape=True),
        )
        found += [
            _event_row(row)
            for row in conn.execute(select(events).where(named))
            if str(stored_meta_dict(row.meta).get("ticket_id")) == str(ticket_id)
        ]
    return sorted(found, key=lambda item: item["at"])


def listing(store: Database, source: str, filters: dict, after_id: int, limit: int) -> list[dict]:
    """A page of opens or events matching filters, by id (keyset pagination)."""
    table = opens if source == "opens" else events
    stamp = opens.c.opened_at if source == "opens" else events.c.occurred_at
    query = select(table).where(table.c.id > after_id).order_by(table.c.id).limit(limit)
    if filters.get("since") is not None:
        query = query.where(stamp >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(stamp < filters["until"])
    if source == "opens":
        for name in ("ticket_id", "requester_id", "kind"):
            if filters.get(name) is not None:
                query = query.where(opens.c[name] == filters[name])
        with store.reading() as conn:
            return [_open_row(row) for row in conn.execute(query)]
    if filters.get("campaign"):
        # autoescape: % and _ in a campaign name are literal characters, not wildcards
        query = query.where(events.c.meta.contains(f'"campaign": {json.dumps(filters["campaign"])}', autoescape=True))
    if filters.get("kind"):
        query = query.where(events.c.kind == filters["kind"])
    with store.reading() as conn:
        return [_event_row(row) for row in conn.execute(query)]
