"""Each reply's counters: the opens it had, the opens its notes told of, and the notes they call for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.engine import Connection

from read_receipts.labels.openers import APPLE_PRELOAD, PERSON
from read_receipts.store.database import Database, Record, dialect
from read_receipts.store.reply_statuses import ReplyFilter, ReplyState, described, matching
from read_receipts.store.schema import replies, reply_statuses


class NoteKind(StrEnum):
    """The two notes a reply gets."""

    FIRST = "first"  # tells of one open: the reply's first, or a person's first after machine loads
    SUMMARY = "summary"  # sums up the opens since the last note, once per NOTE_INTERVAL


@dataclass(frozen=True)
class Reply(Record):
    """One reply's counters."""

    ticket_id: int
    reply_key: int  # the reply's comment id, or 0 when the pixel did not say which reply
    first_open_at: float
    last_open_at: float
    opens: int
    opens_noted: int
    next_note_at: float
    summary_pending: bool
    read_noted: bool
    sent_at: float | None
    first_read_at: float | None
    person_opens: int = 0
    preload_opens: int = 0
    person_noted: int = 0
    preload_noted: int = 0


@dataclass(frozen=True)
class Covered:
    """The opens one note tells of: in all, by a person, and Apple's preloads."""

    opens: int
    person: int = 0
    preload: int = 0


@dataclass(frozen=True)
class CountedOpen:
    """One counted open, as its reply's counters need it."""

    open_id: int
    ticket_id: int
    reply_key: int
    opened_at: float
    kind: str
    sent_at: float | None


@dataclass(frozen=True)
class NoteDue:
    """A note the counters call for, to be queued as a delivery."""

    ticket_id: int
    reply_key: int
    kind: NoteKind
    due_at: float
    open_id: int | None = None


@dataclass(frozen=True)
class Counted:
    """What adding opens to their replies calls for: notes to queue, and the opens the first notes tell of."""

    notes: list[NoteDue]
    noted: list[int]


ByReply = dict[tuple[int, int], list[CountedOpen]]


class Replies(Database):
    """Reads of a reply's counters."""

    def get(self, ticket_id: int, reply_key: int) -> Reply | None:
        """Return a reply's counters."""
        with self.reading() as conn:
            where = (replies.c.ticket_id == ticket_id, replies.c.reply_key == reply_key)
            row = conn.execute(select(replies).where(*where)).first()
        return Reply.of(row) if row is not None else None

    def author(self, ticket_id: int, reply_key: int) -> str | None:
        """Who replied, as the reply-sent webhook said (None when it did not)."""
        where = (reply_statuses.c.ticket_id == ticket_id, reply_statuses.c.reply_key == reply_key)
        with self.reading() as conn:
            return conn.execute(select(reply_statuses.c.agent_name).where(*where)).scalar()

    def statuses(self, ticket_id: int, limit: int = 100) -> list[ReplyState]:
        """Return the status of a ticket's replies, newest first."""
        query = matching(described(), ReplyFilter(ticket_id=ticket_id))
        with self.reading() as conn:
            newest = (reply_statuses.c.seen_at.desc(), reply_statuses.c.reply_key.desc())  # ties: the later comment
            rows = conn.execute(query.order_by(*newest).limit(limit))
            return [ReplyState.of(row) for row in rows]

    def listing(self, wanted: ReplyFilter, after_id: int, limit: int) -> list[ReplyState]:
        """Return a page of reply statuses a filter wants, by id (keyset pagination)."""
        query = matching(described(), wanted).where(reply_statuses.c.id > after_id)
        with self.reading() as conn:
            rows = conn.execute(query.order_by(reply_statuses.c.id).limit(limit))
            return [ReplyState.of(row) for row in rows]


def by_reply(counted: Sequence[CountedOpen]) -> ByReply:
    """Group counted opens by the reply they opened, oldest first."""
    groups: ByReply = {}
    for one in sorted(counted, key=lambda c: c.open_id):
        groups.setdefault((one.ticket_id, one.reply_key), []).append(one)
    return groups


def count_replies(conn: Connection, groups: ByReply, now: float, interval: float) -> Counted:
    """Add a batch of opens to their replies; return the first notes and summaries they call for.

    A reply's first open gets a note at once, and so does the first open by a
    person after machine loads; the rest wait for the reply's summary. A
    handful of statements for the whole batch keeps the write lock short.
    """
    counted = _add_to_replies(conn, groups, now + interval)
    notes: list[NoteDue] = []
    read, pending = [], []
    for key, group in groups.items():
        reply = counted[key]
        firsts = [group[0]] if reply.opens == len(group) else []
        person = next((c for c in group if c.kind == PERSON), None)
        if person is not None and not reply.read_noted:
            read.append((key, person.opened_at))
            if person not in firsts:
                firsts.append(person)
        notes += [NoteDue(*key, NoteKind.FIRST, now, c.open_id) for c in firsts]
        if len(group) > len(firsts) and not reply.summary_pending:
            pending.append(key)
            due = now + interval if reply.opens == len(group) else max(now, reply.next_note_at)
            notes.append(NoteDue(*key, NoteKind.SUMMARY, due))
    if read:  # remember when a person first read each reply, for time-to-open figures
        where = (replies.c.ticket_id == bindparam("t"), replies.c.reply_key == bindparam("k"))
        first_reads = [{"t": t, "k": k, "r": at} for (t, k), at in read]
        conn.execute(update(replies).where(*where).values(read_noted=True, first_read_at=bindparam("r")), first_reads)
    _flag_replies(conn, pending, summary_pending=True)
    return Counted(notes, [note.open_id for note in notes if note.open_id is not None])


def note_delivered(
    conn: Connection, ticket_id: int, reply_key: int, kind: str, now: float, interval: float, covered: Covered
) -> NoteDue | None:
    """Move a reply's counters on after one of its notes; return its next summary when opens wait."""
    where = (replies.c.ticket_id == ticket_id, replies.c.reply_key == reply_key)
    told = {"opens_noted": covered.opens, "person_noted": covered.person, "preload_noted": covered.preload}
    totals = {"opens_noted": "opens", "person_noted": "person_opens", "preload_noted": "preload_opens"}
    if kind == NoteKind.FIRST:  # a first note covers its own open
        conn.execute(
            update(replies)
            .where(*where)
            .values(
                **{
                    name: case(
                        (replies.c[name] + n <= replies.c[totals[name]], replies.c[name] + n), else_=replies.c[name]
                    )
                    for name, n in told.items()
                }
            )
        )
        return None
    noted = {name: case((replies.c[name] < n, n), else_=replies.c[name]) for name, n in told.items()}
    conn.execute(update(replies).where(*where).values(**noted, summary_pending=False, next_note_at=now + interval))
    reply = conn.execute(select(replies).where(*where)).one()
    if reply.opens > reply.opens_noted and _mark_summary_pending(conn, where):
        return NoteDue(ticket_id, reply_key, NoteKind.SUMMARY, reply.next_note_at)
    return None


def _flag_replies(conn: Connection, keys: list[tuple[int, int]], **flags: bool) -> None:
    """Set flags on several replies in one executemany."""
    if keys:
        where = (replies.c.ticket_id == bindparam("t"), replies.c.reply_key == bindparam("k"))
        conn.execute(update(replies).where(*where).values(**flags), [{"t": t, "k": k} for t, k in keys])


def _add_to_replies(conn: Connection, groups: ByReply, next_note_at: float) -> dict:
    """Upsert every reply's counters in one statement; return the new counters by reply."""
    rows = [
        {
            "ticket_id": ticket_id,
            "reply_key": key,
            "first_open_at": group[0].opened_at,
            "last_open_at": max(c.opened_at for c in group),
            "opens": len(group),
            "person_opens": sum(1 for c in group if c.kind == PERSON),
            "preload_opens": sum(1 for c in group if c.kind == APPLE_PRELOAD),
            "next_note_at": next_note_at,  # kept only by a reply seen for the first time
            "sent_at": next((c.sent_at for c in group if c.sent_at is not None), None),
        }
        for (ticket_id, key), group in groups.items()
    ]
    upsert = dialect(conn).insert(replies)  # run as executemany: compiled once, cached
    later = upsert.excluded.last_open_at
    upsert = upsert.on_conflict_do_update(
        index_elements=[replies.c.ticket_id, replies.c.reply_key],
        set_={
            "opens": replies.c.opens + upsert.excluded.opens,
            "person_opens": replies.c.person_opens + upsert.excluded.person_opens,
            "preload_opens": replies.c.preload_opens + upsert.excluded.preload_opens,
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


def _mark_summary_pending(conn: Connection, where: tuple) -> bool:
    """Flag a reply as having a summary queued; False if one already is."""
    flagged = conn.execute(
        update(replies).where(*where, replies.c.summary_pending.is_(False)).values(summary_pending=True)
    )
    return flagged.rowcount == 1
