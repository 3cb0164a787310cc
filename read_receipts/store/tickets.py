"""What Zendesk said of each ticket, and which worker is asking it about which ticket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.engine import Connection

from read_receipts.store.database import Database, Record, dialect, insert_ignore
from read_receipts.store.holds import take_hold
from read_receipts.store.schema import comments, opens, tickets

COMMENTS_KEPT = 1000  # public comment ids kept per ticket, newest first (Zendesk allows 5,000 comments)


class TicketStatus(StrEnum):
    """The statuses this service acts on; any other is Zendesk's own word (new, open, pending, solved ...)."""

    CHECKING = "checking"  # a worker is asking Zendesk, or will again at retry_at
    CLOSED = "closed"  # final: no more notes
    DELETED = "deleted"  # final: Zendesk has no such ticket


FINAL = frozenset({TicketStatus.CLOSED, TicketStatus.DELETED})


@dataclass(frozen=True)
class PublicComment:
    """A public comment as Zendesk listed it: when it was written, and by whom."""

    comment_id: int
    created_at: float | None = None
    author_id: int | None = None
    author_name: str | None = None  # side-loaded with the comments (include=users)


@dataclass(frozen=True)
class Ticket(Record):
    """What Zendesk said of one ticket."""

    ticket_id: int
    requester_id: int | None
    status: str  # a TicketStatus, or the status Zendesk gave
    checked_at: float
    attempts: int
    retry_at: float
    opted_out: bool  # carries OPT_OUT_TAG
    public_comments: str  # the ids of its public comments, space-separated, newest kept
    comments_at: float
    ccs: int = 0  # people in copy of its emails when it was checked

    @property
    def final(self) -> bool:
        """Whether the ticket takes no more notes."""
        return self.status in FINAL

    def lists_comment(self, comment_id: int) -> bool:
        """Whether a comment id is among the ticket's public comments."""
        return str(comment_id) in (self.public_comments or "").split()


def comment_listed():
    """Whether an open's comment id is among its ticket's public comments (ids are space-separated)."""
    padded = literal(" ") + tickets.c.public_comments + literal(" ")
    return padded.like(literal("% ") + cast(opens.c.comment_id, String) + literal(" %"))


def described():
    """The tickets Zendesk has described (no check of them is waiting)."""
    return select(tickets.c.ticket_id).where(tickets.c.status != TicketStatus.CHECKING)


class Tickets(Database):
    """The ticket cache and the leases of ticket checks."""

    def claim_comments_read(self, ticket_id: int, now: float, lease: float) -> bool:
        """Become the one worker reading a ticket's comments for the next `lease` seconds."""
        with self.engine.begin() as conn:
            return take_hold(conn, f"comments:{ticket_id}", now, lease)

    def remember_comments(self, ticket_id: int, public: Sequence[PublicComment], read_at: float) -> None:
        """Keep a ticket's public comments (the newest COMMENTS_KEPT ids, with time and author) as read at `read_at`."""
        with self.engine.begin() as conn:
            where = tickets.c.ticket_id == ticket_id
            known = conn.execute(select(tickets.c.public_comments).where(where)).scalar() or ""
            kept = {int(token) for token in known.split() if token.isdigit()}
            ids = sorted(kept | {comment.comment_id for comment in public}, reverse=True)[:COMMENTS_KEPT]
            conn.execute(
                update(tickets).where(where).values(public_comments=" ".join(map(str, ids)), comments_at=read_at)
            )
            _keep_comments(conn, ticket_id, public)

    def comment(self, ticket_id: int, comment_id: int) -> PublicComment | None:
        """Return a public comment's time and author, if Zendesk listed it."""
        where = (comments.c.ticket_id == ticket_id, comments.c.comment_id == comment_id)
        with self.reading() as conn:
            row = conn.execute(select(comments).where(*where)).first()
        return PublicComment(row.comment_id, row.created_at, row.author_id, row.author_name) if row else None

    def cached(self, ticket_id: int) -> Ticket | None:
        """Return what Zendesk said of a ticket, if it was checked before."""
        return self.cached_many([ticket_id]).get(ticket_id)

    def cached_many(self, ticket_ids: Iterable[int]) -> dict[int, Ticket]:
        """Return what Zendesk said of several tickets, by id."""
        with self.reading() as conn:
            where = (tickets.c.ticket_id.in_(set(ticket_ids)), tickets.c.status != TicketStatus.CHECKING)
            return {row.ticket_id: Ticket.of(row) for row in conn.execute(select(tickets).where(*where))}

    def claim_check(self, ticket_id: int, now: float, lease: float) -> int | None:
        """Become the one worker asking Zendesk about a ticket.

        Returns the failed attempts so far, or None if another worker is asking.
        """
        with self.engine.begin() as conn:
            values = {"ticket_id": ticket_id, "checked_at": now, "retry_at": now + lease}
            if insert_ignore(conn, tickets, status=TicketStatus.CHECKING, **values):
                return 0
            due = (
                tickets.c.ticket_id == ticket_id,
                tickets.c.status == TicketStatus.CHECKING,
                tickets.c.retry_at <= now,
            )
            claimed = conn.execute(
                update(tickets).where(*due).values(retry_at=now + lease).returning(tickets.c.attempts)
            ).first()
            return None if claimed is None else claimed.attempts

    def postpone_check(self, ticket_id: int, retry_at: float, failed: bool) -> None:
        """Let any worker ask about a ticket again at `retry_at`."""
        with self.engine.begin() as conn:
            where = (tickets.c.ticket_id == ticket_id, tickets.c.status == TicketStatus.CHECKING)
            attempts = tickets.c.attempts + (1 if failed else 0)
            conn.execute(update(tickets).where(*where).values(retry_at=retry_at, attempts=attempts))

    def remember(
        self,
        ticket_id: int,
        requester_id: int | None,
        status: str,
        now: float,
        opted_out: bool | None = None,
        ccs: int | None = None,
    ) -> None:
        """Remember a ticket's requester, status, opt-out and people in copy (closed and deleted are final)."""
        with self.engine.begin() as conn:
            insert_ignore(conn, tickets, ticket_id=ticket_id, requester_id=requester_id, status=status, checked_at=now)
            values = {"status": status, "checked_at": now}
            if requester_id is not None:
                values["requester_id"] = requester_id
            if opted_out is not None:
                values["opted_out"] = opted_out
            if ccs is not None:
                values["ccs"] = ccs
            conn.execute(update(tickets).where(tickets.c.ticket_id == ticket_id).values(**values))


def _keep_comments(conn: Connection, ticket_id: int, public: Sequence[PublicComment]) -> None:
    """Upsert the time and author of each comment read (a name Zendesk did not side-load keeps the one known)."""
    if not public:
        return
    rows = [
        {
            "ticket_id": ticket_id,
            "comment_id": c.comment_id,
            "created_at": c.created_at,
            "author_id": c.author_id,
            "author_name": c.author_name,
        }
        for c in public
    ]
    upsert = dialect(conn).insert(comments)
    upsert = upsert.on_conflict_do_update(
        index_elements=[comments.c.ticket_id, comments.c.comment_id],
        set_={
            "created_at": func.coalesce(upsert.excluded.created_at, comments.c.created_at),
            "author_id": func.coalesce(upsert.excluded.author_id, comments.c.author_id),
            "author_name": func.coalesce(upsert.excluded.author_name, comments.c.author_name),
        },
    )
    conn.execute(upsert, rows)


def retry_failed_now(conn: Connection, now: float) -> None:
    """Make every ticket check that waits after a failed try due now."""
    conn.execute(
        update(tickets)
        .where(tickets.c.status == TicketStatus.CHECKING, tickets.c.attempts > 0, tickets.c.retry_at > now)
        .values(retry_at=now)
    )
