"""Pixel opens: their states, recording them, finding the ones triage can decide, and settling its verdicts.

This module is the only writer of `opens.state`: new -> noted | counted | dry_run | skipped | rejected
| unverified | closed | deleted | opted_out | expired | dead (and dead -> new when a dead letter is retried).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from read_receipts.labels.openers import AGENT, PERSON
from read_receipts.store.database import Database, Record, insert_rows, update_rows
from read_receipts.store.deliveries import queue_notes
from read_receipts.store.replies import CountedOpen, by_reply, count_replies
from read_receipts.store.reply_statuses import Load, loaded
from read_receipts.store.rollups import add_counts, add_tallies, utc_day
from read_receipts.store.schema import daily_opens, opens, tickets
from read_receipts.store.ticket_updates import queue_reads
from read_receipts.store.tickets import FINAL, TicketStatus, comment_listed, described
from read_receipts.store.webhook_calls import Call, queue_calls


class OpenState(StrEnum):
    """Where an open is: waiting for triage, or what triage made of it."""

    NEW = "new"  # waiting for triage
    NOTED = "noted"  # counted, and a first note tells of it
    COUNTED = "counted"  # counted: its reply's summary tells of it
    DRY_RUN = "dry_run"  # would have counted, but came in a dry run: logged, never noted, never a read
    SKIPPED = "skipped"  # labelled a kind not in NOTE_KINDS
    REJECTED = "rejected"  # the requester is not the ticket's
    UNVERIFIED = "unverified"  # no requester to check
    CLOSED = "closed"  # the ticket is closed
    DELETED = "deleted"  # Zendesk has no such ticket
    OPTED_OUT = "opted_out"  # the requester opted out: nothing of the reader kept
    EXPIRED = "expired"  # its ticket could not be checked in time
    DEAD = "dead"  # triage failed on it: see error


# Loads that prove nothing about a reader. They are counted under these names,
# never as a kind of reader, and never leave as webhooks. A dry run's loads are
# among them: nothing was checked, so nothing of them may reach Zendesk later.
NOT_READS = frozenset(
    {OpenState.REJECTED, OpenState.UNVERIFIED, OpenState.DELETED, OpenState.OPTED_OUT, OpenState.DRY_RUN}
)

# Why an open was stored without a note, by its state (the log's and `explain`'s words).
WHY_BY_STATE = {
    OpenState.UNVERIFIED: "no requester id in the pixel URL",
    OpenState.REJECTED: "requester does not match the ticket",
    OpenState.DELETED: "Zendesk has no such ticket",
    OpenState.CLOSED: "ticket is closed",
    OpenState.OPTED_OUT: "requester opted out",
}


# Verified loads, noted or not: they move their reply's status on (rejected and unverified ones prove nothing).
LOADS_OF_REPLIES = frozenset({OpenState.COUNTED, OpenState.SKIPPED, OpenState.CLOSED})


def why_not_noted(state: str, kind: str | None) -> str | None:
    """Why an open with this state and kind gets no note; None when it counts towards one."""
    if state in WHY_BY_STATE:
        return WHY_BY_STATE[OpenState(state)]
    if state == OpenState.SKIPPED:
        return "agent address (IGNORE_IPS)" if kind == AGENT else f"labelled {kind} (not in NOTE_KINDS)"
    return None


def counted_as(state: str, kind: str | None) -> str:
    """The name a triaged open is counted under: its kind when verified, else why it is not."""
    return state if state in NOT_READS else kind or state


@dataclass(frozen=True)
class Open(Record):
    """One stored open."""

    id: int
    ticket_id: int
    requester_id: int | None
    comment_id: int | None
    opened_at: float
    ip: str | None
    user_agent: str | None
    sent: str | None  # the reply's send time as the img tag carried it
    signed: bool  # from a signed tracking link: no requester check
    state: str = OpenState.NEW
    client: str | None = None  # set at triage
    kind: str | None = None  # set at triage
    error: str | None = None  # why a dead open could not be triaged


@dataclass(frozen=True)
class WaitingCheck(Record):
    """A source's oldest open waiting on a ticket check."""

    ip: str | None
    requester_id: int
    first: int  # the open's id
    ticket_id: int


@dataclass(frozen=True)
class Verdict:
    """What triage decided about one open."""

    open: Open
    state: OpenState
    client: str = ""
    kind: str = ""
    sent_at: float | None = None
    ip: str | None = None  # the address as it is kept (IP_STORAGE)
    named: bool = True  # False: the reply id is not a public comment of the ticket, so "a reply"
    calls: Sequence[Call] = field(default=(), compare=False)  # the webhook calls that tell of it
    user_agent_kept: bool = True  # False: KEEP_USER_AGENT=false, the label stays and the User-Agent goes


class Opens(Database):
    """Reads of pixel opens, and every change of their state."""

    def record(self, values: Mapping) -> None:
        """Store one open directly (the pixel spools its opens; this serves imports and tests)."""
        with self.engine.begin() as conn:
            conn.execute(insert(opens).values(signed=False, state=OpenState.NEW, **values))

    def by_id(self, open_id: int) -> Open | None:
        """Return one stored open."""
        with self.reading() as conn:
            row = conn.execute(select(opens).where(opens.c.id == open_id)).first()
        return Open.of(row) if row is not None else None

    def last_of_ticket(self, ticket_id: int, last: int) -> list[Open]:
        """Return a ticket's last opens, newest first."""
        query = select(opens).where(opens.c.ticket_id == ticket_id).order_by(opens.c.id.desc()).limit(last)
        with self.reading() as conn:
            return [Open.of(row) for row in conn.execute(query)]

    def decidable(self, verify: bool, limit: int) -> list[Open]:
        """Return new opens that need no call to Zendesk to be decided, oldest first.

        With verification on, that is opens whose ticket Zendesk already
        described, and opens without a requester (they can never match).
        """
        query = select(opens).where(opens.c.state == OpenState.NEW)
        if verify:
            # A reply id is taken as named once the ticket's comments were read after the open came.
            reply_known = or_(
                opens.c.comment_id.is_(None),
                tickets.c.status.in_(FINAL),
                tickets.c.opted_out.is_(True),
                tickets.c.requester_id != opens.c.requester_id,
                tickets.c.comments_at >= opens.c.opened_at,
                comment_listed(),
            )
            known = exists().where(
                tickets.c.ticket_id == opens.c.ticket_id, tickets.c.status != TicketStatus.CHECKING, reply_known
            )
            query = query.where(or_(opens.c.signed.is_(True), opens.c.requester_id.is_(None), known))
        with self.reading() as conn:
            return [Open.of(row) for row in conn.execute(query.order_by(opens.c.id).limit(limit))]

    def checks_waiting(self, now: float) -> list[WaitingCheck]:
        """Return, for each client address and requester, the oldest new open waiting on a ticket check.

        One row per source, so a source that sends thousands of unknown ids is one candidate among others.
        """
        checking = select(tickets.c.ticket_id).where(
            or_(tickets.c.status != TicketStatus.CHECKING, tickets.c.retry_at > now)
        )
        waiting = (
            select(opens.c.ip, opens.c.requester_id, func.min(opens.c.id).label("first"))
            .where(
                opens.c.state == OpenState.NEW,
                opens.c.signed.is_(False),
                opens.c.requester_id.is_not(None),
                opens.c.ticket_id.not_in(checking),
            )
            .group_by(opens.c.ip, opens.c.requester_id)
            .subquery()
        )
        query = select(waiting, opens.c.ticket_id).join(opens, opens.c.id == waiting.c.first)
        with self.reading() as conn:
            return [WaitingCheck.of(row) for row in conn.execute(query)]

    def naming_unread_comments(self, now: float, refresh: float) -> int | None:
        """Return a described ticket with new opens naming a reply not yet among its public comments.

        A ticket's comments are read at most once per `refresh` seconds, however many ids are sent.
        """
        query = (
            select(opens.c.ticket_id)
            .join(tickets, tickets.c.ticket_id == opens.c.ticket_id)
            .where(
                opens.c.state == OpenState.NEW,
                opens.c.signed.is_(False),
                opens.c.comment_id.is_not(None),
                tickets.c.status.not_in((TicketStatus.CHECKING, *FINAL)),
                tickets.c.requester_id == opens.c.requester_id,
                tickets.c.opted_out.is_(False),
                tickets.c.comments_at < opens.c.opened_at,
                tickets.c.comments_at <= now - refresh,
                ~comment_listed(),
            )
            .order_by(opens.c.id)
            .limit(1)
        )
        with self.reading() as conn:
            return conn.execute(query).scalar()

    def settle(self, verdicts: Sequence[Verdict], now: float, interval: float) -> None:
        """Record each open's verdict and label, count the counted ones, queue their notes and webhook calls.

        One short transaction for the whole batch keeps SQLite's write lock free
        for the pixel. An open another worker settled first is skipped.
        """
        if not verdicts:
            return
        with self.engine.begin() as conn:
            settled: set[int] = set()
            for state in {verdict.state for verdict in verdicts}:
                settled.update(_settle(conn, [v.open.id for v in verdicts if v.state == state], state))
            mine = [v for v in verdicts if v.open.id in settled]
            labels = _label_opens(conn, mine)
            _count_labels(conn, mine, labels)
            counted = [_counted(v) for v in mine if v.state == OpenState.COUNTED]
            if counted:
                due = count_replies(conn, by_reply(counted), now, interval)
                queue_notes(conn, due.notes, now)
                _move(conn, due.noted, OpenState.COUNTED, OpenState.NOTED)
            verified = [v for v in mine if v.state in LOADS_OF_REPLIES]
            loaded(conn, [_load(v) for v in verified])
            # A person's read takes the unread tag away, noted or not; a closed ticket keeps its tags.
            reads = [v.open for v in verified if v.kind == PERSON and v.state != OpenState.CLOSED]
            queue_reads(conn, [(row.ticket_id, row.opened_at) for row in reads], now)
            # in the same transaction: a settled open's webhook is never lost
            queue_calls(conn, [call for v in mine for call in v.calls], now)

    def expire_unchecked(self, before: float) -> int:
        """Move new opens whose ticket was never described, and that came before a time, to `expired`."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(opens)
                .where(
                    opens.c.state == OpenState.NEW,
                    opens.c.signed.is_(False),
                    opens.c.opened_at < before,
                    opens.c.ticket_id.not_in(described()),
                )
                .values(state=OpenState.EXPIRED)
            ).rowcount


def add_proven(conn: Connection, proven: Sequence[Mapping]) -> None:
    """Store the opens tracking links prove (signed: no requester check), new, in the caller's transaction."""
    insert_rows(conn, opens, [{**row, "signed": True, "state": OpenState.NEW} for row in proven])


def _settle(conn: Connection, ids: Sequence[int], state: OpenState) -> list[int]:
    """Move opens out of `new` to a state; return the ids this transaction moved."""
    return _move(conn, ids, OpenState.NEW, state)


def _move(conn: Connection, ids: Sequence[int], old: OpenState, new: OpenState) -> list[int]:
    """Move opens from one state to another; return the ids moved."""
    if not ids:
        return []
    moved = conn.execute(
        update(opens).where(opens.c.id.in_(ids), opens.c.state == old).values(state=new).returning(opens.c.id)
    )
    return list(moved.scalars())


def _label_opens(conn: Connection, settled: Sequence[Verdict]) -> list[dict]:
    """Write the label of each open this transaction settled; return the labels written."""
    labels = [
        {
            "id": v.open.id,
            "client": v.client[:40] or None,
            "kind": v.kind or None,
            "ip": v.ip,
            "user_agent": v.open.user_agent if v.user_agent_kept else None,
        }
        for v in settled
    ]
    update_rows(conn, opens, "id", labels)  # one statement for the batch
    untracked = [v.open.id for v in settled if v.state == OpenState.OPTED_OUT]
    if untracked:  # an opted-out requester's load keeps no trace of the reader
        conn.execute(update(opens).where(opens.c.id.in_(untracked)).values(ip=None, user_agent=None))
    return labels


def _count_labels(conn: Connection, settled: Sequence[Verdict], labels: list[dict]) -> None:
    """Add the labelled opens to the tallies by kind and to the daily counts by kind and client."""
    kinds: dict[str, int] = {}
    days: dict[tuple[str, str, str], int] = {}
    opened = {v.open.id: v.open.opened_at for v in settled}
    states = {v.open.id: v.state for v in settled}
    for label in labels:
        kind = counted_as(states[label["id"]], label["kind"])  # only verified loads count as readers
        kinds[f"opens:{kind}"] = kinds.get(f"opens:{kind}", 0) + 1
        day = (utc_day(opened[label["id"]]), kind, label["client"] or "")
        days[day] = days.get(day, 0) + 1
    add_tallies(conn, kinds)
    add_counts(conn, daily_opens, ("day", "kind", "client"), days)


def _counted(verdict: Verdict) -> CountedOpen:
    """A counted open, as its reply's counters take it (a reply id not on the ticket counts as "a reply")."""
    row = verdict.open
    return CountedOpen(row.id, row.ticket_id, _reply_key(verdict), row.opened_at, verdict.kind, verdict.sent_at)


def _load(verdict: Verdict) -> Load:
    """A verified load, as its reply's status takes it."""
    row = verdict.open
    return Load(row.ticket_id, _reply_key(verdict), row.opened_at, verdict.kind, verdict.client, verdict.sent_at)


def _reply_key(verdict: Verdict) -> int:
    """The reply an open counts towards: its comment id when the ticket lists it, else 0 ("a reply")."""
    return (verdict.open.comment_id or 0) if verdict.named else 0
