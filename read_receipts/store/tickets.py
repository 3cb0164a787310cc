"""What Zendesk said of each ticket, and which worker is asking it about which ticket."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Row

from read_receipts.store.database import Database, insert_ignore
from read_receipts.store.schema import opens, tickets


class TicketStore(Database):
    """The ticket cache and the leases of ticket checks."""

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
