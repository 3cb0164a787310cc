"""Reply ids: which comment ids are public comments of a ticket, read from Zendesk and cached.

A pixel names its reply by `comment_id`, which anyone can change. A note names
a reply only when the id is one of the ticket's public comments; other ids count
as "a reply". A ticket's comments are read at most once per REFRESH seconds, so
a thousand made-up ids cost one read, not a thousand. Each read keeps when every
public comment was written and by whom (names side-loaded in the same call, else
read once per author: authors.py), so a note names the reply as the agent knows it:
by its time and author.
"""

from __future__ import annotations

from datetime import UTC, datetime

from read_receipts.delivery.authors import AuthorNames
from read_receipts.delivery.pacing import PacedWork, Pacing
from read_receipts.delivery.zendesk import ZendeskClient, ZendeskVerdict
from read_receipts.settings import Settings
from read_receipts.store.opens import Opens
from read_receipts.store.tickets import PublicComment, Tickets, TicketStatus

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
        self.authors = AuthorNames(zendesk, pacing)

    def run(self, now: float) -> bool:
        """Read the comments of one ticket that opens wait on; True if Zendesk was asked."""
        ticket_id = self.opens.naming_unread_comments(now, REFRESH)
        if ticket_id is None or not self.tickets.claim_comments_read(ticket_id, now, self.lease):
            return False
        known = set((self.tickets.cached(ticket_id).public_comments or "").split())
        public: list[PublicComment] = []
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
            if answer.verdict != ZendeskVerdict.OK:
                return True  # paced by the hold the failure set; read again later
            listed, next_page = _public_comments(answer.body or {})
            public += listed
            if not next_page or known & {str(c.comment_id) for c in listed}:
                break  # the last page, or the newest comments already known: the rest are too
        if public or (asked and not next_page):
            self.tickets.remember_comments(ticket_id, self.authors.named(public, now), now)
        return asked


def _public_comments(page: dict) -> tuple[list[PublicComment], str]:
    """The public comments on one page, with time and author, and the next page's link ('' on the last page)."""
    comments = [c for c in page.get("comments") or [] if isinstance(c, dict)]
    names = _names(page.get("users"))
    listed = [
        PublicComment(c["id"], _time(c.get("created_at")), _id(c.get("author_id")), names.get(c.get("author_id")))
        for c in comments
        if c.get("public") and _id(c.get("id")) is not None
    ]
    more = (page.get("meta") or {}).get("has_more", bool(page.get("next_page")))
    next_page = str((page.get("links") or {}).get("next") or page.get("next_page") or "") if more else ""
    return listed, next_page


def _names(users) -> dict[int, str]:
    """The side-loaded users' names by id (a user without a name is left out)."""
    found = {}
    for user in users if isinstance(users, list) else []:
        if isinstance(user, dict) and _id(user.get("id")) is not None and isinstance(user.get("name"), str):
            found[user["id"]] = user["name"].strip()[:120] or None
    return {key: name for key, name in found.items() if name}


def _id(value) -> int | None:
    """A Zendesk id from JSON, or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _time(value) -> float | None:
    """A Zendesk ISO 8601 time as a Unix time, or None when it is missing or malformed."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
