"""What Zendesk said of each ticket, and which worker is asking it about which ticket."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, cast, func, literal, or_, select, update
from sqlalchemy.engine import Row

from read_receipts.store.database import Database, insert_ignore
from read_receipts.store.schema import holds, opens, tickets

COMMENTS_KEPT = 1000  # public comment ids kept per ticket, newest first (Zendesk allows 5,000 comments)


def comment_listed():
    """Whether an open's comment id is among its ticket's public comments (ids are space-separated)."""
    padded = literal(" ") + tickets.c.public_comments + literal(" ")
    return padded.like(literal("% ") + cast(opens.c.comment_id, String) + literal(" %"))


class TicketStore(Database):
    """The ticket cache and the leases of ticket checks."""

    def checks_waiting(self, now: float) -> Sequence[Row]:
        """Return, for each client address and requester, the oldest open waiting on a ticket check.

        Rows are (ip, requester_id, first, ticket_id): one per source, so a
        source that sends thousands of unknown ids is one candidate among others.
        """
        checking = select(tickets.c.ticket_id).where(or_(tickets.c.status != "checking", tickets.c.retry_at > now))
        waiting = (
            select(opens.c.ip, opens.c.requester_id, func.min(opens.c.id).label("first"))
            .where(
                opens.c.state == "new",
                opens.c.signed.is_(False),
                opens.c.requester_id.is_not(None),
                opens.c.ticket_id.not_in(checking),
            )
            .group_by(opens.c.ip, opens.c.requester_id)
            .subquery()
        )
        query = select(waiting, opens.c.ticket_id).join(opens, opens.c.id == waiting.c.first)
        with self.reading() as conn:
            return conn.execute(query).all()

    def comments_to_read(self, now: float, refresh: float) -> int | None:
        """Return a described ticket with new opens naming a reply not yet among its public comments.

        A ticket's comments are read at most once per `refresh` seconds, however many ids are sent.
        """
        query = (
            select(opens.c.ticket_id)
            .join(tickets, tickets.c.ticket_id == opens.c.ticket_id)
            .where(
                opens.c.state == "new",
                opens.c.signed.is_(False),
                opens.c.comment_id.is_not(None),
                tickets.c.status.not_in(("checking", "closed", "deleted")),
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

    def claim_comments_read(self, ticket_id: int, now: float, lease: float) -> bool:
        """Become the one worker reading a ticket's comments for the next `lease` seconds."""
        key = f"comments:{ticket_id}"
        with self.engine.begin() as conn:
            if insert_ignore(conn, holds, key=key, until=now + lease):
                return True
            taken = conn.execute(
                update(holds).where(holds.c.key == key, holds.c.until <= now).values(until=now + lease)
            )
            return taken.rowcount == 1

    def remember_comments(self, ticket_id: int, public_ids: Sequence[int], read_at: float) -> None:
        """Keep a ticket's public comment ids (the newest COMMENTS_KEPT) as read at `read_at`."""
        with self.engine.begin() as conn:
            where = tickets.c.ticket_id == ticket_id
            known = conn.execute(select(tickets.c.public_comments).where(where)).scalar() or ""
            kept = {int(token) for token in known.split() if token.isdigit()}
            ids = sorted(kept | set(public_ids), reverse=True)[:COMMENTS_KEPT]
            conn.execute(
                update(tickets).where(where).values(public_comments=" ".join(map(str, ids)), comments_at=read_at)
            )

    def expire_unchecked_opens(self, before: float) -> int:
        """Move opens whose ticket was never described, and that came before a time, to `expired`."""
        described = select(tickets.c.ticket_id).where(tickets.c.status != "checking")
        with self.engine.begin() as conn:
            return conn.execute(
                update(opens)
                .where(
                    opens.c.state == "new",
                    opens.c.signed.is_(False),
                    opens.c.opened_at < before,
                    opens.c.ticket_id.not_in(described),
                )
                .values(state="expired")
            ).rowcount

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
            if insert_ignore(conn, tickets, **values):
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
            insert_ignore(conn, tickets, ticket_id=ticket_id, requester_id=requester_id, status=status, checked_at=now)
            values = {"status": status, "checked_at": now}
            if requester_id is not None:
                values["requester_id"] = requester_id
            if opted_out is not None:
                values["opted_out"] = opted_out
            conn.execute(update(tickets).where(tickets.c.ticket_id == ticket_id).values(**values))
