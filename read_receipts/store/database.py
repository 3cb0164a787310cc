"""The durable store: opens, tickets checked, replies, note deliveries, shared budgets."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Table,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row

from read_receipts.labels.openers import PERSON
from read_receipts.store.counting import counted_as
from read_receipts.store.schema import (
    budgets,
    campaign_events,
    daily_opens,
    deliveries,
    events,
    holds,
    metadata,
    opens,
    replies,
    replies_sent,
    tallies,
    tickets,
    webhooks,
)
from read_receipts.store.shelf import Shelf


@dataclass(frozen=True)
class Verdict:
    """What triage decided about one open."""

    open: Row
    state: str  # counted, skipped, rejected, unverified, closed or deleted
    client: str = ""
    kind: str = ""
    sent_at: float | None = None
    ip: str | None = None  # the address as it is kept (IP_STORAGE)


class Store:
    """All reads and writes of the service's tables."""

    def __init__(self, url: str):
        self.engine = _engine(url)
        self._open_sql = _insert_sql("opens", _OPEN_COLUMNS, self.engine.dialect.paramstyle)
        self._event_sql = _insert_sql("events", _EVENT_COLUMNS, self.engine.dialect.paramstyle)
        self._pixel = Shelf(self._pixel_connection, self.engine.dialect.name)  # shared by request threads
        self._label = (
            update(opens)
            .where(opens.c.id == bindparam("i"))
            .values(client=bindparam("c"), kind=bindparam("k"), ip=bindparam("a"))
        )

    def close(self) -> None:
        """Close every connection, the request threads' own included."""
        self._pixel.close()
        self.engine.dispose()

    def create_schema(self) -> None:
        """Create missing tables; safe when several workers start at once."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(720431)"))
            metadata.create_all(conn)

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        with self.reading() as conn:
            conn.execute(text("SELECT 1"))

    def record_open(self, values: dict) -> None:
        """Store one pixel load durably (the pixel's hot path).

        One plain INSERT on a connection the request thread keeps: the ORM-free
        path costs a quarter of a SQLAlchemy round trip.
        """
        self._insert_now(self._open_sql, {"signed": False, **values})

    def record_event(self, event: dict) -> None:
        """Store a tracking link's open or click (a hot path: one INSERT)."""
        self._insert_now(self._event_sql, event)

    def events(self, kind: str | None = None) -> Sequence[Row]:
        """Return stored tracking events, oldest first."""
        query = select(events).order_by(events.c.id)
        with self.reading() as conn:
            return conn.execute(query.where(events.c.kind == kind) if kind else query).all()

    def _insert_now(self, sql: str, values: dict) -> None:
        """Run a hot-path INSERT on a kept connection (a broken one is never reused)."""
        with self._pixel.lend() as conn:
            _insert_soon(conn, sql, values)

    def _pixel_connection(self):
        """Check out a connection for the hot path."""
        conn = self.engine.raw_connection()
        if self.engine.dialect.name == "sqlite":
            # SQLite's own busy wait sleeps up to 100 ms between tries and keeps
            # missing the short gaps between other writers: _insert_soon polls.
            conn.driver_connection.execute("PRAGMA busy_timeout = 0")
            # Checkpoints (which sync the disk) fall to the courier's commits;
            # this backstop only matters where no courier runs.
            conn.driver_connection.execute("PRAGMA wal_autocheckpoint = 20000")
        return conn

    def reading(self) -> Connection:
        """Open a connection for reads (on SQLite, without taking the write lock)."""
        return self.engine.connect().execution_options(deferred_begin=True)

    # -- leases ---------------------------------------------------------------

    def claim_deliveries(self, now: float, lease: float, limit: int) -> list[Row]:
        """Lease up to `limit` due note deliveries to this caller."""
        return self._claim(deliveries, now, lease, limit)

    def release_delivery(self, row: Row, due: float, status: int | None = None, error: str = "") -> None:
        """Give a leased delivery back, to be tried again at `due`."""
        self._release(deliveries, row, due, status, error)

    def claim_webhooks(self, now: float, lease: float, limit: int) -> list[Row]:
        """Lease up to `limit` due webhook calls to this caller."""
        return self._claim(webhooks, now, lease, limit)

    def release_webhook(self, row: Row, due: float, status: int | None = None, error: str = "") -> None:
        """Give a leased webhook call back, to be tried again at `due`."""
        self._release(webhooks, row, due, status, error)

    def unlease_webhooks(self, rows: Sequence[Row]) -> None:
        """Give leased webhook calls back untried."""
        if rows:
            with self.engine.begin() as conn:
                tokens = {row.lease_owner for row in rows}
                where = (webhooks.c.id.in_([row.id for row in rows]), webhooks.c.lease_owner.in_(tokens))
                conn.execute(update(webhooks).where(*where).values(lease_until=0))

    def finish_webhook(self, row: Row, state: str, now: float, status: int | None = None, error: str = "") -> None:
        """Record a webhook call's final outcome."""
        with self.engine.begin() as conn:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.id == row.id, webhooks.c.lease_owner == row.lease_owner)
                .values(state=state, done_at=now, lease_until=0, last_status=status, last_error=error[:300] or None)
            )

    def _claim(self, table: Table, now: float, lease: float, limit: int) -> list[Row]:
        """Lease due pending rows of an outbox table (deliveries or webhooks)."""
        token = str(uuid.uuid4())
        due = (table.c.state == "pending", table.c.due_at <= now, table.c.lease_until <= now)
        with self.engine.begin() as conn:
            ids = (
                conn.execute(
                    select(table.c.id)
                    .where(*due)
                    .order_by(table.c.due_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            conn.execute(
                update(table)
                .where(table.c.id.in_(ids), table.c.lease_until <= now)
                .values(lease_owner=token, lease_until=now + lease)
            )
            return conn.execute(select(table).where(table.c.lease_owner == token)).all()

    def _release(self, table: Table, row: Row, due: float, status: int | None, error: str) -> None:
        """Give a leased outbox row back, counting the attempt."""
        with self.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.id == row.id, table.c.lease_owner == row.lease_owner)
                .values(
                    due_at=due,
                    lease_until=0,
                    attempts=table.c.attempts + 1,
                    last_status=status,
                    last_error=error[:300] or None,
                )
            )

    # -- tracking events ------------------------------------------------------

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
            campaigns: dict[tuple[str, str], int] = {}
            for event_id in moved:
                if campaign_of.get(event_id):
                    key = (campaign_of[event_id], kinds_of[event_id])
                    campaigns[key] = campaigns.get(key, 0) + 1
            _add_counts(conn, campaign_events, ("campaign", "kind"), campaigns)
            if moved:  # the full address was needed only to label the event
                keep = update(events).where(events.c.id == bindparam("i")).values(ip=bindparam("a"))
                conn.execute(keep, [{"i": event_id, "a": kept_ips[event_id]} for event_id in moved])

    def record_reply_sent(self, ticket_id: int, reply_key: int, sent_at: float) -> bool:
        """Remember a reply Zendesk says it sent; False if it was known already."""
        with self.engine.begin() as conn:
            return _insert_ignore(conn, replies_sent, ticket_id=ticket_id, reply_key=reply_key, sent_at=sent_at)

    def webhook_calls(self) -> Sequence[Row]:
        """Return every webhook call, oldest first."""
        with self.reading() as conn:
            return conn.execute(select(webhooks).order_by(webhooks.c.id)).all()

    # -- opens ----------------------------------------------------------------

    def decidable_opens(self, verify: bool, limit: int) -> Sequence[Row]:
        """Return new opens that need no call to Zendesk to be decided, oldest first.

        With verification on, that is opens whose ticket Zendesk already
        described, and opens without a requester (they can never match).
        """
        query = select(*(opens.c[name] for name in ("id", *_OPEN_COLUMNS)))
        if verify:
            described = select(tickets.c.ticket_id).where(tickets.c.status != "checking")
            query = query.where(
                or_(opens.c.signed.is_(True), opens.c.requester_id.is_(None), opens.c.ticket_id.in_(described))
            )
        with self.reading() as conn:
            return conn.execute(query.where(opens.c.state == "new").order_by(opens.c.id).limit(limit)).all()

    def ticket_to_check(self, now: float) -> int | None:
        """Return a ticket that new opens wait on and that no worker is asking about."""
        checking = select(tickets.c.ticket_id).where(or_(tickets.c.status != "checking", tickets.c.retry_at > now))
        query = (
            select(opens.c.ticket_id)
            .where(
                opens.c.state == "new",
                opens.c.signed.is_(False),
                opens.c.requester_id.is_not(None),
                opens.c.ticket_id.not_in(checking),
            )
            .order_by(opens.c.id)
            .limit(1)
        )
        with self.reading() as conn:
            return conn.execute(query).scalar()

    def settle_opens(
        self, verdicts: Sequence[Verdict], now: float, interval: float, calls_for: Callable | None = None
    ) -> None:
        """Record each open's verdict and label, count the counted ones, and queue their notes.

        One short transaction for the whole batch keeps SQLite's write lock free
        for the pixel. An open another worker settled first is skipped.
        """
        if not verdicts:
            return
        with self.engine.begin() as conn:
            settled: set[int] = set()
            for state in {verdict.state for verdict in verdicts}:
                settled.update(_settle(conn, [v.open.id for v in verdicts if v.state == state], state=state))
            labels = [
                {"i": v.open.id, "c": v.client[:40] or None, "k": v.kind or None, "a": v.ip}
                for v in verdicts
                if v.open.id in settled
            ]
            if labels:
                conn.execute(self._label, labels)
            untracked = [v.open.id for v in verdicts if v.state == "opted_out" and v.open.id in settled]
            if untracked:  # an opted-out requester's load keeps no trace of the reader
                conn.execute(update(opens).where(opens.c.id.in_(untracked)).values(ip=None, user_agent=None))
            kinds: dict[str, int] = {}
            days: dict[tuple[str, str, str], int] = {}
            opened = {v.open.id: v.open.opened_at for v in verdicts}
            states = {v.open.id: v.state for v in verdicts}
            for label in labels:
                kind = counted_as(states[label["i"]], label["k"])  # only verified loads count as readers
                kinds[f"opens:{kind}"] = kinds.get(f"opens:{kind}", 0) + 1
                day = (_utc_day(opened[label["i"]]), kind, label["c"] or "")
                days[day] = days.get(day, 0) + 1
            _tally(conn, kinds)
            _add_counts(conn, daily_opens, ("day", "kind", "client"), days)
            counted = _by_reply(v for v in verdicts if v.state == "counted" and v.open.id in settled)
            if counted:
                _count_replies(conn, counted, now, interval)
            calls = [call for v in verdicts if v.open.id in settled for call in (calls_for(v) if calls_for else [])]
            if calls:  # in the same transaction: a settled open's webhook is never lost
                conn.execute(insert(webhooks), [{**call, "created_at": now, "due_at": now} for call in calls])

    def open_by_id(self, open_id: int) -> Row | None:
        """Return one stored open."""
        with self.reading() as conn:
            return conn.execute(select(opens).where(opens.c.id == open_id)).first()

    # -- tickets --------------------------------------------------------------

    def cached_ticket(self, ticket_id: int) -> Row | None:
        """Return what Zendesk said of a ticket, if it was checked before."""
        with self.reading() as conn:
            where = (tickets.c.ticket_id == ticket_id, tickets.c.status != "checking")
            return conn.execute(select(tickets).where(*where)).first()

    def cached_tickets(self, ticket_ids: Sequence[int]) -> dict[int, Row]:
        """Return what Zendesk said of several tickets, by id."""
        with self.reading() as conn:
            where = (tickets.c.ticket_id.in_(set(ticket_ids)), tickets.c.status != "checking")
            return {row.ticket_id: row for row in conn.execute(select(tickets).where(*where))}

    def claim_ticket_check(self, ticket_id: int, now: float, lease: float) -> int | None:
        """Become the one worker asking Zendesk about a ticket.

        Returns the failed attempts so far, or None if another worker is asking.
        """
        with self.engine.begin() as conn:
            values = {"ticket_id": ticket_id, "status": "checking", "checked_at": now, "retry_at": now + lease}
            if _insert_ignore(conn, tickets, **values):
                return 0
            due = (tickets.c.ticket_id == ticket_id, tickets.c.status == "checking", tickets.c.retry_at <= now)
            claimed = conn.execute(
                update(tickets).where(*due).values(retry_at=now + lease).returning(tickets.c.attempts)
            ).first()
            return None if claimed is None else claimed.attempts

    def postpone_ticket_check(self, ticket_id: int, retry_at: float, failed: bool) -> None:
        """Let any worker ask about a ticket again at `retry_at`."""
        with self.engine.begin() as conn:
            where = (tickets.c.ticket_id == ticket_id, tickets.c.status == "checking")
            attempts = tickets.c.attempts + (1 if failed else 0)
            conn.execute(update(tickets).where(*where).values(retry_at=retry_at, attempts=attempts))

    def remember_ticket(
        self, ticket_id: int, requester_id: int | None, status: str, now: float, opted_out: bool | None = None
    ) -> None:
        """Remember a ticket's requester, status and opt-out (closed and deleted are final)."""
        with self.engine.begin() as conn:
            _insert_ignore(conn, tickets, ticket_id=ticket_id, requester_id=requester_id, status=status, checked_at=now)
            values = {"status": status, "checked_at": now}
            if requester_id is not None:
                values["requester_id"] = requester_id
            if opted_out is not None:
                values["opted_out"] = opted_out
            conn.execute(update(tickets).where(tickets.c.ticket_id == ticket_id).values(**values))

    # -- replies and deliveries -----------------------------------------------

    def reply(self, ticket_id: int, reply_key: int) -> Row | None:
        """Return a reply's counters."""
        with self.reading() as conn:
            where = (replies.c.ticket_id == ticket_id, replies.c.reply_key == reply_key)
            return conn.execute(select(replies).where(*where)).first()

    def finish_delivery(
        self,
        row: Row,
        state: str,
        now: float,
        interval: float,
        covered: int,
        status: int | None = None,
        error: str = "",
    ) -> bool:
        """Record a delivery's final outcome and move its reply's counters on."""
        where = (replies.c.ticket_id == row.ticket_id, replies.c.reply_key == row.reply_key)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == row.id,
                    deliveries.c.lease_owner == row.lease_owner,
                    deliveries.c.state == "pending",
                )
                .values(
                    state=state,
                    done_at=now,
                    lease_until=0,
                    attempts=deliveries.c.attempts + 1,
                    last_status=status,
                    last_error=error[:300] or None,
                )
            )
            if not done.rowcount:
                return False
            _tally(conn, {f"notes:{state}": 1})
            if row.kind == "first":  # a first note covers its own open
                one_more = case(
                    (replies.c.opens_noted < replies.c.opens, replies.c.opens_noted + 1), else_=replies.c.opens_noted
                )
                conn.execute(update(replies).where(*where).values(opens_noted=one_more))
                return True
            noted = case((replies.c.opens_noted < covered, covered), else_=replies.c.opens_noted)
            conn.execute(
                update(replies)
                .where(*where)
                .values(opens_noted=noted, summary_pending=False, next_note_at=now + interval)
            )
            reply = conn.execute(select(replies).where(*where)).one()
            if reply.opens > reply.opens_noted and _mark_summary_pending(conn, where):
                _queue_note(conn, row.ticket_id, row.reply_key, "summary", now, reply.next_note_at)
            return True

    def deliveries_for(self, ticket_id: int) -> Sequence[Row]:
        """Return a ticket's deliveries, oldest first."""
        with self.reading() as conn:
            return conn.execute(
                select(deliveries).where(deliveries.c.ticket_id == ticket_id).order_by(deliveries.c.id)
            ).all()

    def pending_count(self) -> int:
        """Count opens and deliveries still waiting."""
        with self.reading() as conn:
            waiting_opens = conn.execute(
                select(func.count()).select_from(opens).where(opens.c.state == "new")
            ).scalar_one()
            waiting_notes = conn.execute(
                select(func.count()).select_from(deliveries).where(deliveries.c.state == "pending")
            ).scalar_one()
        return waiting_opens + waiting_notes

    # -- shared budgets and holds ---------------------------------------------

    def take(self, budgets_wanted: Sequence[tuple[str, float, int]], now: float) -> bool:
        """Use one unit of each (key, window, limit) budget, or of none of them.

        The budgets are shared by every worker and instance through the store.
        """
        try:
            with self.engine.begin() as conn:
                for key, window, limit in budgets_wanted:
                    if not _take_one(conn, key, window, limit, now):
                        raise _Refused  # roll back the units already taken
        except _Refused:
            return False
        return True

    def forget_budgets(self, before: float) -> None:
        """Drop budget windows that ended long ago (per-ticket keys pile up)."""
        with self.engine.begin() as conn:
            conn.execute(budgets.delete().where(budgets.c.window_start < before))

    def purge(self, before: float) -> dict[str, int]:
        """Delete everything settled before a time (retention); return how many rows of each kind."""
        old = {
            "opens": (opens, opens.c.opened_at < before, opens.c.state != "new"),
            "events": (events, events.c.occurred_at < before, events.c.state != "new"),
            "note deliveries": (deliveries, deliveries.c.created_at < before, deliveries.c.state != "pending"),
            "webhook calls": (webhooks, webhooks.c.created_at < before, webhooks.c.state != "pending"),
            "replies": (replies, replies.c.last_open_at < before, replies.c.summary_pending.is_(False)),
            "tickets": (tickets, tickets.c.checked_at < before, tickets.c.status != "checking"),
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
                "tickets": conn.execute(tickets.delete().where(tickets.c.ticket_id.in_(ticket_ids))).rowcount,
                "events": conn.execute(events.delete().where(events.c.id.in_(event_ids))).rowcount,
            }
        return removed

    def tally(self, counts: dict[str, int]) -> None:
        """Add to monotonic counts (for /metrics)."""
        with self.engine.begin() as conn:
            _tally(conn, counts)

    def figures(self, now: float) -> dict:
        """What /metrics reports, read in one go: tallies, queue depths, oldest waiting work."""
        waiting = {
            "opens": (opens.c.opened_at, opens.c.state == "new"),
            "notes": (deliveries.c.created_at, deliveries.c.state == "pending"),
            "webhooks": (webhooks.c.created_at, webhooks.c.state == "pending"),
        }
        with self.reading() as conn:
            counts = dict(conn.execute(select(tallies.c.key, tallies.c.count)).all())
            queues = {}
            for name, (created, pending) in waiting.items():
                depth, oldest = conn.execute(select(func.count(), func.min(created)).where(pending)).one()
                queues[name] = (depth, now - oldest if oldest else 0.0)
        return {"tallies": counts, "queues": queues}

    def retry_waiting_now(self, now: float) -> None:
        """Make every delivery and ticket check waiting after a failure due now."""
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.state == "pending", deliveries.c.attempts > 0, deliveries.c.due_at > now)
                .values(due_at=now)
            )
            conn.execute(
                update(tickets)
                .where(tickets.c.status == "checking", tickets.c.attempts > 0, tickets.c.retry_at > now)
                .values(retry_at=now)
            )

    def hold(self, key: str, until: float) -> None:
        """Pause all calls of one kind until a time (e.g. Zendesk's Retry-After)."""
        with self.engine.begin() as conn:
            _insert_ignore(conn, holds, key=key, until=until)
            conn.execute(update(holds).where(holds.c.key == key, holds.c.until < until).values(until=until))

    def held_until(self, key: str) -> float:
        """Return when a hold ends (0 when none)."""
        with self.reading() as conn:
            return conn.execute(select(holds.c.until).where(holds.c.key == key)).scalar() or 0.0


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


def _utc_day(timestamp: float) -> str:
    """The UTC date of a time, as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _add_counts(conn: Connection, table: Table, keys: tuple[str, ...], counts: dict[tuple, int]) -> None:
    """Add to a rollup table's counts, one executemany upsert."""
    if not counts:
        return
    dialect = _dialect(conn)
    upsert = dialect.insert(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c[key] for key in keys], set_={"count": table.c.count + upsert.excluded.count}
    )
    conn.execute(upsert, [{**dict(zip(keys, key, strict=True)), "count": n} for key, n in sorted(counts.items())])


def _tally(conn: Connection, counts: dict[str, int]) -> None:
    """Add to tallies, in the caller's transaction."""
    _add_counts(conn, tallies, ("key",), {(key[:64],): n for key, n in counts.items()})


class _Refused(Exception):
    """A budget had no unit left."""


def _take_one(conn: Connection, key: str, window: float, limit: int, now: float) -> bool:
    """Use one unit of a fixed-window budget."""
    _insert_ignore(conn, budgets, key=key, window_start=now, used=0)
    expired = budgets.c.window_start + window <= now
    granted = conn.execute(
        update(budgets)
        .where(budgets.c.key == key, or_(expired, budgets.c.used < limit))
        .values(
            used=case((expired, 1), else_=budgets.c.used + 1),
            window_start=case((expired, now), else_=budgets.c.window_start),
        )
    )
    return granted.rowcount == 1


def _settle(conn: Connection, ids: Sequence[int], **values: str) -> list[int]:
    """Move opens out of `new` with their state and label; return the ids this transaction moved."""
    settled = conn.execute(
        update(opens).where(opens.c.id.in_(ids), opens.c.state == "new").values(**values).returning(opens.c.id)
    )
    return list(settled.scalars())


def _by_reply(verdicts) -> dict[tuple[int, int], list[Verdict]]:
    """Group verdicts by the reply their open opened, oldest first."""
    groups: dict[tuple[int, int], list[Verdict]] = {}
    for verdict in sorted(verdicts, key=lambda v: v.open.id):
        groups.setdefault((verdict.open.ticket_id, verdict.open.comment_id or 0), []).append(verdict)
    return groups


def _count_replies(conn: Connection, groups: dict[tuple[int, int], list[Verdict]], now: float, interval: float) -> None:
    """Add a batch of opens to their replies and queue first notes and summaries.

    A reply's first open gets a note at once, and so does the first open by a
    person after machine loads; the rest wait for the reply's summary. A
    handful of statements for the whole batch keeps the write lock short.
    """
    counted = _add_to_replies(conn, groups, now + interval)
    notes, noted_ids, read, pending = [], [], [], []
    for key, group in groups.items():
        reply = counted[key]
        firsts = [group[0]] if reply.opens == len(group) else []
        person = next((v for v in group if v.kind == PERSON), None)
        if person is not None and not reply.read_noted:
            read.append(key)
            if person not in firsts:
                firsts.append(person)
        notes += [_note(key, "first", now, now, v.open.id) for v in firsts]
        noted_ids += [v.open.id for v in firsts]
        if len(group) > len(firsts) and not reply.summary_pending:
            pending.append(key)
            due = now + interval if reply.opens == len(group) else max(now, reply.next_note_at)
            notes.append(_note(key, "summary", now, due))
    if noted_ids:
        conn.execute(update(opens).where(opens.c.id.in_(noted_ids)).values(state="noted"))
    if read:  # remember when a person first read each reply, for time-to-open figures
        where = (replies.c.ticket_id == bindparam("t"), replies.c.reply_key == bindparam("k"))
        first_reads = [
            {"t": t, "k": k, "r": next(v for v in groups[(t, k)] if v.kind == PERSON).open.opened_at} for t, k in read
        ]
        conn.execute(update(replies).where(*where).values(read_noted=True, first_read_at=bindparam("r")), first_reads)
    _flag_replies(conn, pending, summary_pending=True)
    if notes:
        conn.execute(insert(deliveries), notes)


def _flag_replies(conn: Connection, keys: list[tuple[int, int]], **flags: bool) -> None:
    """Set flags on several replies in one executemany."""
    if keys:
        where = (replies.c.ticket_id == bindparam("t"), replies.c.reply_key == bindparam("k"))
        conn.execute(update(replies).where(*where).values(**flags), [{"t": t, "k": k} for t, k in keys])


def _add_to_replies(conn: Connection, groups: dict[tuple[int, int], list[Verdict]], next_note_at: float) -> dict:
    """Upsert every reply's counters in one statement; return the new counters by reply."""
    dialect = _dialect(conn)
    rows = [
        {
            "ticket_id": ticket_id,
            "reply_key": key,
            "first_open_at": group[0].open.opened_at,
            "last_open_at": max(v.open.opened_at for v in group),
            "opens": len(group),
            "next_note_at": next_note_at,  # kept only by a reply seen for the first time
            "sent_at": next((v.sent_at for v in group if v.sent_at is not None), None),
        }
        for (ticket_id, key), group in groups.items()
    ]
    upsert = dialect.insert(replies)  # run as executemany: compiled once, cached
    later = upsert.excluded.last_open_at
    upsert = upsert.on_conflict_do_update(
        index_elements=[replies.c.ticket_id, replies.c.reply_key],
        set_={
            "opens": replies.c.opens + upsert.excluded.opens,
            "last_open_at": case((replies.c.last_open_at < later, later), else_=replies.c.last_open_at),
            "sent_at": func.coalesce(replies.c.sent_at, upsert.excluded.sent_at),
        },
    ).returning(
        replies.c.ticket_id,
        replies.c.reply_key,
        replies.c.opens,
        replies.c.next_note_at,
        replies.c.summary_pending,
        replies.c.read_noted,
    )
    return {(row.ticket_id, row.reply_key): row for row in conn.execute(upsert, rows)}


def _note(reply: tuple[int, int], kind: str, now: float, due: float, open_id: int | None = None) -> dict:
    """Describe one delivery to queue."""
    return {
        "ticket_id": reply[0],
        "reply_key": reply[1],
        "kind": kind,
        "open_id": open_id,
        "created_at": now,
        "due_at": due,
    }


def _mark_summary_pending(conn: Connection, where: tuple) -> bool:
    """Flag a reply as having a summary queued; False if one already is."""
    flagged = conn.execute(
        update(replies).where(*where, replies.c.summary_pending.is_(False)).values(summary_pending=True)
    )
    return flagged.rowcount == 1


def _queue_note(
    conn: Connection, ticket_id: int, reply_key: int, kind: str, now: float, due: float, open_id: int | None = None
) -> None:
    """Add a note to the delivery queue."""
    conn.execute(
        insert(deliveries).values(
            ticket_id=ticket_id, reply_key=reply_key, kind=kind, open_id=open_id, created_at=now, due_at=due
        )
    )


def _dialect(conn: Connection):
    """The SQLAlchemy dialect module whose insert() speaks ON CONFLICT for this connection."""
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def _insert_ignore(conn: Connection, table: Table, **values) -> bool:
    """Insert a row unless its key exists; True if it was inserted (both dialects speak ON CONFLICT)."""
    dialect = _dialect(conn)
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
    return conn.execute(statement.returning(*table.primary_key.columns)).first() is not None


def _insert_soon(conn, sql: str, values: dict, patience: float = 20.0) -> None:
    """Run one INSERT, retrying every 0.2 ms while SQLite is busy with another writer."""
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor = conn.cursor()
            cursor.execute(sql, values)
            cursor.close()
            conn.commit()
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.0002)


_OPEN_COLUMNS = ("ticket_id", "requester_id", "comment_id", "opened_at", "ip", "user_agent", "sent", "signed")
_EVENT_COLUMNS = ("kind", "occurred_at", "ip", "user_agent", "meta", "target")


def _insert_sql(table: str, columns: Sequence[str], paramstyle: str) -> str:
    """Write a hot-path INSERT in the driver's own parameter style."""
    mark = "%({})s" if paramstyle == "pyformat" else ":{}"
    placeholders = ", ".join(mark.format(column) for column in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"


def _engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and immediate write transactions."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take over transaction control from the driver, so BEGIN IMMEDIATE
        # below is the only BEGIN: workers then queue for the write lock
        # instead of failing with "database is locked" on upgrade.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only power loss can
        # lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        reading = conn.get_execution_options().get("deferred_begin")
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine
