"""The figures the dashboard and the API show, read from the store's rollups and indexes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from read_receipts.insights.errors import BadRequest
from read_receipts.labels.openers import PERSON
from read_receipts.links.recorder import stored_meta_dict
from read_receipts.store.database import Database
from read_receipts.store.opens import NOT_READS
from read_receipts.store.reply_statuses import ReplyStatus
from read_receipts.store.schema import campaign_events, daily_opens, events, opens, replies_sent, reply_statuses

# Time from a reply to its first reading, in buckets people think in.
BUCKETS = ((3600, "under 1 h"), (4 * 3600, "1-4 h"), (86400, "4-24 h"), (3 * 86400, "1-3 days"), (None, "over 3 days"))
MACHINE_KINDS = ("apple_preload", "gmail_prefetch", "scanner", "bot")
TIMELINE_MAX = 500  # loads on a ticket's page
RECENT = 10  # opens on the main page; the opens page pages through the rest


MAX_DAYS = 366  # the longest range a page or an answer covers


@dataclass(frozen=True)
class Period:
    """A date range, first day to last day included (UTC)."""

    first: date
    last: date
    notice: str = ""  # what was changed in the range asked for, in words

    @property
    def start(self) -> float:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC).timestamp()

    @property
    def end(self) -> float:
        """The moment after the last day."""
        return self.start + ((self.last - self.first).days + 1) * 86400

    def days(self) -> list[str]:
        return [(self.first + timedelta(days=n)).isoformat() for n in range((self.last - self.first).days + 1)]


def period(first: str | None, last: str | None, today: date | None = None, span: int = 30, cut: bool = True) -> Period:
    """Read a date range from query values; the last `span` days by default, at most MAX_DAYS.

    BadRequest for a value that is not a date, and (with cut=False) for a longer range; with cut=True
    a longer range is cut to its last MAX_DAYS days and the Period's notice says so.
    """
    today = today or datetime.now(UTC).date()
    try:
        end = _day(last, "to") or today
        start = _day(first, "from") or end - timedelta(days=span - 1)
        start, end = min(start, end), max(start, end)
        earliest = end - timedelta(days=MAX_DAYS - 1)
    except OverflowError:
        raise BadRequest("from and to must be dates between 0002-01-01 and 9999-12-31") from None
    if start >= earliest:
        return Period(start, end)
    asked = f"{start.isoformat()} to {end.isoformat()} is {(end - start).days + 1} days"
    if not cut:
        raise BadRequest(f"a range is at most {MAX_DAYS} days: {asked}")
    return Period(earliest, end, f"{asked}, more than the {MAX_DAYS} days shown at once: showing the last {MAX_DAYS}.")


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be a date such as 2026-11-22 (got {value[:40]!r})") from None


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
            "recent": _with_link_kinds(conn, conn.execute(select(opens).order_by(opens.c.id.desc()).limit(RECENT))),
            "campaigns": _campaigns(conn),
            "not_counted": not_reads,
        }


def _replies(conn, when: Period) -> dict:
    """X of Y replies read by a person (their status): Y from Zendesk's webhook, else the replies seen through their pixel."""
    sent = conn.execute(
        select(func.count()).where(replies_sent.c.sent_at >= when.start, replies_sent.c.sent_at < when.end)
    ).scalar_one()
    read = reply_statuses.c.status == ReplyStatus.READ
    if sent:
        joined = replies_sent.join(
            reply_statuses,
            and_(
                reply_statuses.c.ticket_id == replies_sent.c.ticket_id,
                reply_statuses.c.reply_key == replies_sent.c.reply_key,
            ),
        )
        opened = conn.execute(
            select(func.count())
            .select_from(joined)
            .where(replies_sent.c.sent_at >= when.start, replies_sent.c.sent_at < when.end, read)
        ).scalar_one()
        return {"sent": sent, "opened": opened, "source": "zendesk"}
    seen = (reply_statuses.c.seen_at >= when.start, reply_statuses.c.seen_at < when.end)
    total, opened = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((read, 1), else_=0)), 0)).where(*seen)
    ).one()
    return {"sent": total, "opened": opened, "source": "pixel"}


def _time_to_open(conn, when: Period) -> dict:
    """Distribution and median of the time from a reply being sent to a person first reading it."""
    row = reply_statuses.c
    delay = row.first_read_at - row.sent_at
    where = (
        row.seen_at >= when.start,
        row.seen_at < when.end,
        row.status == ReplyStatus.READ,
        row.first_read_at.is_not(None),
        row.sent_at.is_not(None),
    )
    counted, lower = [], 0
    for upper, _ in BUCKETS:  # every bucket counted in one pass over the period's read replies
        bound = delay >= lower if upper is None else and_(delay >= lower, delay < upper)
        counted.append(func.coalesce(func.sum(case((bound, 1), else_=0)), 0))
        lower = upper or lower
    found = conn.execute(select(*counted).select_from(reply_statuses).where(*where)).one()
    buckets = {name: int(n) for (_, name), n in zip(BUCKETS, found, strict=True)}
    count = sum(buckets.values())
    median = None
    if count:
        median = conn.execute(
            select(delay).select_from(reply_statuses).where(*where).order_by(delay).offset((count - 1) // 2).limit(1)
        ).scalar()
    return {"buckets": buckets, "median_seconds": median, "count": count}


def _campaigns(conn) -> list[dict]:
    """Opens and clicks per campaign of tracking links."""
    found: dict[str, dict] = {}
    for campaign, kind, count in conn.execute(select(campaign_events)):
        found.setdefault(campaign, {"campaign": campaign, "open": 0, "click": 0})[kind] = count
    return sorted(found.values(), key=lambda row: -(row["open"] + row["click"]))


def _open_row(row, link: str | None = None) -> dict:
    """One open, as the API and the dashboard show it; `link` is "click" or "open" for a tracking link's."""
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
        "link": link,
    }


def _with_link_kinds(conn, rows) -> list[dict]:
    """Opens as shown, each signed one named for the tracking-link event (click or open) that proved it."""
    rows = list(rows)
    proofs = _link_events(conn, rows)
    return [_open_row(row, proofs[row.id].kind if row.id in proofs else "open" if row.signed else None) for row in rows]


def _link_events(conn, rows) -> dict:
    """The tracking-link event behind each signed open, by open id."""
    signed = [row for row in rows if row.signed]
    if not signed:
        return {}
    # A signed open copies its event's time, address and client exactly: that is how the two are matched.
    found = conn.execute(select(events).where(events.c.occurred_at.in_({row.opened_at for row in signed})))
    by_key = {(event.occurred_at, event.ip, event.user_agent): event for event in found}
    keys = {row.id: (row.opened_at, row.ip, row.user_agent) for row in signed}
    return {open_id: by_key[key] for open_id, key in keys.items() if key in by_key}


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


def timeline(store: Database, ticket_id: int, limit: int = TIMELINE_MAX) -> list[dict]:
    """A ticket's last opens and link events, oldest first; a link's open or click shows once, as itself."""
    with store.reading() as conn:
        last = conn.execute(
            select(opens).where(opens.c.ticket_id == ticket_id).order_by(opens.c.id.desc()).limit(limit)
        ).all()
        proofs = _link_events(conn, last)
        found = [_proven_open(row, proofs.get(row.id)) for row in last]
        shown = {event.id for event in proofs.values()}
        # LIKE narrows the rows down; the exact match is made on the parsed metadata.
        named = or_(
            events.c.meta.contains(f'"ticket_id": {ticket_id}', autoescape=True),
            events.c.meta.contains(f'"ticket_id": "{ticket_id}"', autoescape=True),
        )
        found += [
            _event_row(row)
            for row in conn.execute(select(events).where(named).order_by(events.c.id.desc()).limit(limit))
            if row.id not in shown and str(stored_meta_dict(row.meta).get("ticket_id")) == str(ticket_id)
        ]
    return sorted(found, key=lambda item: item["at"])


def _proven_open(row, event) -> dict:
    """An open, with the link event that proved it (its metadata and target) when it came from one."""
    if event is None:
        return _open_row(row, "open" if row.signed else None)
    return {**_open_row(row, event.kind), "meta": _meta(event.meta), "target": event.target}


def listing(
    store: Database, source: str, filters: dict, after_id: int, limit: int, before_id: int | None = None
) -> list[dict]:
    """A page of opens or events matching filters, by id (keyset pagination); newest first below `before_id`."""
    table = opens if source == "opens" else events
    stamp = opens.c.opened_at if source == "opens" else events.c.occurred_at
    query = select(table).where(table.c.id > after_id).order_by(table.c.id).limit(limit)
    if filters.get("since") is not None:
        query = query.where(stamp >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(stamp < filters["until"])
    if source == "opens":
        for name in ("ticket_id", "requester_id", "kind", "client", "state"):
            if filters.get(name) is not None:
                query = query.where(opens.c[name] == filters[name])
        if before_id is not None:
            query = query.where(opens.c.id < before_id).order_by(None).order_by(opens.c.id.desc())
        with store.reading() as conn:
            return _with_link_kinds(conn, conn.execute(query))
    if filters.get("campaign"):
        # autoescape: % and _ in a campaign name are literal characters, not wildcards
        query = query.where(events.c.meta.contains(f'"campaign": {json.dumps(filters["campaign"])}', autoescape=True))
    if filters.get("kind"):
        query = query.where(events.c.kind == filters["kind"])
    with store.reading() as conn:
        return [_event_row(row) for row in conn.execute(query)]


def summary_clients(store: Database, when: Period) -> list[str]:
    """The clients that loaded a pixel in a period, by name (from the daily rollup)."""
    with store.reading() as conn:
        found = conn.execute(
            select(daily_opens.c.client)
            .where(daily_opens.c.day >= when.first.isoformat(), daily_opens.c.day <= when.last.isoformat())
            .distinct()
        ).scalars()
        return sorted(name for name in found if name)


def campaigns(store: Database) -> list[dict]:
    """Opens and clicks per campaign of tracking links."""
    with store.reading() as conn:
        return _campaigns(conn)
