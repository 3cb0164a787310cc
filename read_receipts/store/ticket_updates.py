"""Ticket updates without a note: the unread-reply tag and the last-read field, one queued row per ticket.

A row holds what the service knows of its ticket (the latest reply no person read in time, the latest
read by a person) and what it last sent to Zendesk; the job sends only the difference, so a tag added
and taken away again before it was sent is never sent at all. This module is the only writer of
`ticket_updates.state`: pending -> done | skipped | failed | dead, and back to pending when what is
known of the ticket changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import String, case, cast, exists, func, literal, not_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from read_receipts.store.database import dialect
from read_receipts.store.outbox import PENDING as WAITING
from read_receipts.store.outbox import Outbox, OutboxRow
from read_receipts.store.reply_statuses import ReplyStatus
from read_receipts.store.rollups import add_tallies
from read_receipts.store.schema import budgets, opt_outs, reply_statuses, ticket_updates, tickets
from read_receipts.store.tickets import FINAL


class TicketUpdateState(StrEnum):
    """Where a ticket's update is: waiting, or how the last one ended."""

    PENDING = WAITING  # as every outbox row waits
    DONE = "done"  # Zendesk has what is wanted
    SKIPPED = "skipped"  # nothing differed from what was sent before
    FAILED = "failed"  # Zendesk refused it for good, or the ticket is closed or deleted
    DEAD = "dead"  # our own code failed on it: see last_error


SENT_UNANSWERED = "sent; no answer recorded"  # a try's mark until its answer replaces it


@dataclass(frozen=True)
class TicketUpdate(OutboxRow):
    """One ticket's queued update: what is known of it, and what Zendesk was last sent."""

    ticket_id: int
    wish: int
    unread_sent_at: float | None
    read_at: float | None
    tag_sent: str | None
    field_sent: str | None
    tagged_at: float | None = None  # when Zendesk was last given the tag
    untagged_at: float | None = None  # when it was last taken away again

    @property
    def outcome_unknown(self) -> bool:
        """Whether the last try may have reached Zendesk with no answer heard (a timeout, a dropped connection, a
        worker killed while it waited): Zendesk may have applied it."""
        return self.last_status is None and self.last_error is not None

    @property
    def unread(self) -> bool:
        """Whether a reply went unread too long and no person has read the ticket's replies since it was sent."""
        return self.unread_sent_at is not None and (self.read_at is None or self.read_at < self.unread_sent_at)


def read_by_a_person() -> ColumnElement:
    """Whether a reply (a `reply_statuses` row) was read by a person: its status, whatever NOTE_KINDS notes."""
    return reply_statuses.c.status == ReplyStatus.READ


class TicketUpdates(Outbox[TicketUpdate]):
    """Marks, claims, releases and outcomes of ticket updates."""

    table = ticket_updates
    record = TicketUpdate

    def claim(self, now: float, lease: float, limit: int, per_ticket: int | None = None) -> list[TicketUpdate]:
        """Lease up to `limit` due updates; with `per_ticket`, skip tickets whose 10-minute window is used up."""
        if per_ticket is None:
            return self._claim(now, lease, limit)
        key = literal("ticket:") + cast(ticket_updates.c.ticket_id, String)
        used = select(budgets.c.used).where(budgets.c.key == key, budgets.c.window_start + 600 > now)
        used = func.coalesce(used.correlate(ticket_updates).scalar_subquery(), 0)
        return self._claim(now, lease, limit, used < per_ticket, used)

    def record_try(self, row: TicketUpdate) -> None:
        """Mark a leased update as sent and not yet answered: if no answer is recorded, the next try looks first."""
        with self.engine.begin() as conn:
            mine = (ticket_updates.c.id == row.id, ticket_updates.c.lease_owner == row.lease_owner)
            conn.execute(update(ticket_updates).where(*mine).values(last_status=None, last_error=SENT_UNANSWERED))

    def postpone(self, row: TicketUpdate, due: float) -> None:
        """Give a leased update back untried, to be looked at again at `due` (a budget frees then)."""
        with self.engine.begin() as conn:
            mine = (ticket_updates.c.id == row.id, ticket_updates.c.lease_owner == row.lease_owner)
            conn.execute(update(ticket_updates).where(*mine).values(due_at=due, lease_until=0))

    def finish(
        self,
        row: TicketUpdate,
        state: TicketUpdateState,
        now: float,
        tag_sent: str | None,
        field_sent: str | None,
        status: int | None = None,
        error: str = "",
    ) -> bool:
        """Record what Zendesk now has and how the update ended; it stays pending if the ticket changed meanwhile.

        A tag Zendesk was given, or had taken away, keeps the time of it.
        """
        same = ticket_updates.c.wish == row.wish
        times = {}
        if tag_sent != row.tag_sent:
            times = {"tagged_at": now} if tag_sent else {"untagged_at": now}
        with self.engine.begin() as conn:
            done = conn.execute(
                update(ticket_updates)
                .where(ticket_updates.c.id == row.id, ticket_updates.c.lease_owner == row.lease_owner)
                .values(
                    state=case((same, state), else_=TicketUpdateState.PENDING),
                    due_at=case((same, ticket_updates.c.due_at), else_=now),
                    done_at=now,
                    lease_until=0,
                    attempts=case((same, ticket_updates.c.attempts + 1), else_=0),
                    tag_sent=tag_sent,
                    field_sent=field_sent,
                    last_status=status,
                    last_error=error[:300] or None,
                    **times,
                )
            )
            if done.rowcount != 1:
                return False
            add_tallies(conn, {f"ticket_updates:{state}": 1})
            return True

    def of_ticket(self, ticket_id: int) -> TicketUpdate | None:
        """Return a ticket's update row, if it has one."""
        with self.reading() as conn:
            row = conn.execute(select(ticket_updates).where(ticket_updates.c.ticket_id == ticket_id)).first()
        return TicketUpdate.of(row) if row is not None else None

    def mark_unread(
        self, since: float, before: float, now: float, limit: int, never: frozenset[int] = frozenset()
    ) -> int:
        """Queue the tag for tickets with a reply sent between two times that no person has read; return how many.

        A ticket is marked once per reply: a reply older than the one that marked it,
        or sent before a person's latest read of the ticket, marks nothing. Tickets of
        requesters who opted out (or are in `never`) are not marked: their reads are never counted.
        """
        late = _unread_replies(since, before).subquery()
        known = exists().where(
            ticket_updates.c.ticket_id == late.c.ticket_id,
            or_(
                func.coalesce(ticket_updates.c.unread_sent_at, 0) >= late.c.sent_at,
                func.coalesce(ticket_updates.c.read_at, 0) >= late.c.sent_at,
            ),
        )
        opted_out = select(opt_outs.c.requester_id)
        untracked = exists().where(
            tickets.c.ticket_id == late.c.ticket_id,
            or_(
                tickets.c.status.in_(FINAL),
                tickets.c.opted_out.is_(True),
                tickets.c.requester_id.in_(opted_out),
                tickets.c.requester_id.in_(sorted(never)),
            ),
        )
        link_followed = late.c.ticket_id.in_(select(opt_outs.c.ticket_id).where(opt_outs.c.ticket_id.is_not(None)))
        query = (
            select(late.c.ticket_id, func.max(late.c.sent_at).label("sent_at"))
            .where(not_(known), not_(untracked), not_(link_followed))
            .group_by(late.c.ticket_id)
            .order_by(late.c.ticket_id)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            marks = [{"ticket_id": row.ticket_id, "unread_sent_at": row.sent_at} for row in conn.execute(query)]
            _want(conn, marks, now)
        return len(marks)


def queue_reads(conn: Connection, reads: Sequence[tuple[int, float]], now: float) -> None:
    """Queue an update for each ticket a person read (ticket id, read at), in the caller's transaction."""
    latest: dict[int, float] = {}
    for ticket_id, read_at in reads:
        latest[ticket_id] = max(read_at, latest.get(ticket_id, read_at))
    _want(conn, [{"ticket_id": ticket_id, "read_at": at} for ticket_id, at in sorted(latest.items())], now)


def retry_failed_now(conn: Connection, now: float) -> None:
    """Make every pending ticket update that waits after a failed try due now."""
    conn.execute(
        update(ticket_updates)
        .where(
            ticket_updates.c.state == TicketUpdateState.PENDING,
            ticket_updates.c.attempts > 0,
            ticket_updates.c.due_at > now,
        )
        .values(due_at=now)
    )


def _unread_replies(since: float, before: float):
    """Replies sent between two times that no person has read, by their status (reported sent, or seen loaded)."""
    return select(reply_statuses.c.ticket_id, reply_statuses.c.sent_at).where(
        reply_statuses.c.sent_at >= since, reply_statuses.c.sent_at < before, not_(read_by_a_person())
    )


def _want(conn: Connection, rows: list[dict], now: float) -> None:
    """Merge what is now known of some tickets into their rows (the later of each time), and make them due now."""
    if not rows:
        return
    values = [{"unread_sent_at": None, "read_at": None, **row, "created_at": now, "due_at": now} for row in rows]
    upsert = dialect(conn).insert(ticket_updates)
    new = upsert.excluded
    upsert = upsert.on_conflict_do_update(
        index_elements=[ticket_updates.c.ticket_id],
        set_={
            "unread_sent_at": _later(ticket_updates.c.unread_sent_at, new.unread_sent_at),
            "read_at": _later(ticket_updates.c.read_at, new.read_at),
            "wish": ticket_updates.c.wish + 1,
            "state": TicketUpdateState.PENDING,
            "due_at": now,
            "attempts": case((ticket_updates.c.state == TicketUpdateState.PENDING, ticket_updates.c.attempts), else_=0),
        },
    )
    conn.execute(upsert, [{**row, "state": TicketUpdateState.PENDING, "wish": 0} for row in values])


def _later(column, new):
    """The later of a stored time and a new one (either may be null)."""
    return case((column.is_(None), new), (new > column, new), else_=column)
