"""Each reply's counters, and the first notes and summaries they queue."""

from __future__ import annotations

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from read_receipts.labels.openers import PERSON
from read_receipts.store.database import Database, dialect
from read_receipts.store.schema import deliveries, opens, replies

# Counted verdicts (see opens.Verdict) grouped by the reply their open opened, oldest first.
ByReply = dict[tuple[int, int], list]


class ReplyStore(Database):
    """Reads of a reply's counters."""

    def reply(self, ticket_id: int, reply_key: int) -> Row | None:
        """Return a reply's counters."""
        with self.reading() as conn:
            where = (replies.c.ticket_id == ticket_id, replies.c.reply_key == reply_key)
            return conn.execute(select(replies).where(*where)).first()


def count_replies(conn: Connection, groups: ByReply, now: float, interval: float) -> None:
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


def note_delivered(conn: Connection, row: Row, now: float, interval: float, covered: int) -> None:
    """Move a reply's counters on after one of its notes, and queue its next summary if opens wait."""
    where = (replies.c.ticket_id == row.ticket_id, replies.c.reply_key == row.reply_key)
    if row.kind == "first":  # a first note covers its own open
        one_more = case(
            (replies.c.opens_noted < replies.c.opens, replies.c.opens_noted + 1), else_=replies.c.opens_noted
        )
        conn.execute(update(replies).where(*where).values(opens_noted=one_more))
        return
    noted = case((replies.c.opens_noted < covered, covered), else_=replies.c.opens_noted)
    conn.execute(
        update(replies).where(*where).values(opens_noted=noted, summary_pending=False, next_note_at=now + interval)
    )
    reply = conn.execute(select(replies).where(*where)).one()
    if reply.opens > reply.opens_noted and _mark_summary_pending(conn, where):
        _queue_note(conn, row.ticket_id, row.reply_key, "summary", now, reply.next_note_at)


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
            "first_open_at": group[0].open.opened_at,
            "last_open_at": max(v.open.opened_at for v in group),
            "opens": len(group),
            "next_note_at": next_note_at,  # kept only by a reply seen for the first time
            "sent_at": next((v.sent_at for v in group if v.sent_at is not None), None),
        }
        for (ticket_id, key), group in groups.items()
    ]
    upsert = dialect(conn).insert(replies)  # run as executemany: compiled once, cached
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
