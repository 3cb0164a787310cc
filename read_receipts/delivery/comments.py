"""Reply ids: which comment ids are public comments of a ticket, read from Zendesk and cached.

A pixel names its reply by `comment_id`, which anyone can change. A note names
a reply only when the id is one of the ticket's public comments; other ids count
as "a reply". A ticket's comments are read at most once per REFRESH seconds, so
a thousand made-up ids cost one read, not a thousand.
"""

from __future__ import annotations

from read_receipts.delivery.pacing import PacedWork, Pacing
from read_receipts.delivery.zendesk import ZendeskClient
from read_receipts.settings import Settings
from read_receipts.store.opens import Opens
from read_receipts.store.tickets import Tickets, TicketStatus

REFRESH = 60.0  # seconds between two reads of one ticket's comments
MAX_PAGES = 10  # pages of 100 comments, newest first, per read


class ReplyIds(PacedWork):
    """Reads the public comment ids of tickets whose opens name a reply not yet known."""

    def __init__(
        self,
        opens: Opens,
        tickets: Tickets,
        zendesk: ZendeskClient,
        settings: Settings,
        pacing: Pacing,
        lease: float,
    ):
        super().__init__(zendesk, settings, pacing, lease)
        self.opens = opens
        self.tickets = tickets

    def run(self, now: float) -> bool:
        """Read the comments of one ticket that opens wait on; True if Zendesk was asked."""
        ticket_id = self.opens.naming_unread_comments(now, REFRESH)
        if ticket_id is None or not self.tickets.claim_comments_read(ticket_id, now, self.lease):
            return False
        known = set((self.tickets.cached(ticket_id).public_comments or "").split())
        public: list[int] = []
        next_page, asked = "", False
        for _ in range(MAX_PAGES):
            if self.pacing.gate(now):
                break  # no budget left this minute: keep what was read, opens wait for the rest
            asked = True
            answer = self.zendesk.comments(ticket_id, next_page)
            self.pacing.observe(answer, now, f"reading the comments of ticket {ticket_id}")
            if answer.status == 404:
                self.tickets.remember(ticket_id, None, TicketStatus.DELETED, now)
                return True
            if answer.verdict != "ok":
                return True  # paced by the hold the failure set; read again later
            ids, next_page = _public_ids(answer.body or {})
            public += ids
            if not next_page or known & {str(i) for i in ids}:
                break  # the last page, or the newest comments already known: the rest are too
        if public or (asked and not next_page):
            self.tickets.remember_comments(ticket_id, public, now)
        return asked


def _public_ids(page: dict) -> tuple[list[int], str]:
    """The public comment ids on one page, and the next page's link ('' on the last page)."""
    comments = [c for c in page.get("comments") or [] if isinstance(c, dict)]
    ids = [c["id"] for c in comments if c.get("public") and isinstance(c.get("id"), int)]
    more = (page.get("meta") or {}).get("has_more", bool(page.get("next_page")))
    next_page = str((page.get("links") or {}).get("next") or page.get("next_page") or "") if more else ""
    return ids, next_page
