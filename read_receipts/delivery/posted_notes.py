"""Finding a note on its ticket: a try whose outcome is unknown is looked for before it is posted again.

A courier killed while Zendesk took its note, or a call that got no answer,
leaves a delivery whose note may be on the ticket already. Its words were kept
before the call; the ticket's newest comments are read, and the note is posted
again only if no private comment of the API user carries those exact words.
"""

from __future__ import annotations

from dataclasses import dataclass

from read_receipts.delivery.pacing import PacedWork
from read_receipts.delivery.zendesk import Answer, ZendeskVerdict

MAX_PAGES = 3  # pages of 100 comments, newest first: a note tried one lease ago is on the first


@dataclass(frozen=True)
class Lookup:
    """What reading a ticket's comments said of one note."""

    found: bool | None  # None: the comments could not be read (see answer), or no budget was left (wait)
    answer: Answer | None = None
    wait: float = 0.0


class PostedNotes(PacedWork):
    """Looks for a note's exact words among a ticket's newest private comments, within the request budget."""

    _author: int | None = None  # the API user's id, read once

    def find(self, ticket_id: int, body: str, now: float) -> Lookup:
        """Say whether the note `body` is on the ticket already."""
        author = self._api_user(now)
        next_page = ""
        for _ in range(MAX_PAGES):
            wait = self.pacing.gate(now)
            if wait:
                return Lookup(None, wait=wait)
            answer = self.zendesk.comments(ticket_id, next_page)
            self.pacing.observe(answer, now, f"looking for a note on ticket {ticket_id}")
            if answer.verdict != ZendeskVerdict.OK:
                return Lookup(None, answer)
            page = answer.body or {}
            if any(_is_the_note(comment, body, author) for comment in page.get("comments") or []):
                return Lookup(True, answer)
            next_page = _next_page(page)
            if not next_page:
                break
        return Lookup(False)

    def _api_user(self, now: float) -> int | None:
        """The id of the user notes are posted as (None while it cannot be read: the words alone then match)."""
        if self._author is None and not self.pacing.gate(now):
            answer = self.zendesk.me()
            self.pacing.observe(answer, now, "reading the API user")
            user = (answer.body or {}).get("user") if answer.verdict == ZendeskVerdict.OK else None
            if isinstance(user, dict) and isinstance(user.get("id"), int):
                self._author = user["id"]
        return self._author


def _is_the_note(comment, body: str, author: int | None) -> bool:
    """Whether a comment is this note: private, with its exact words, by the API user when known."""
    if not isinstance(comment, dict) or comment.get("public") is not False:
        return False
    words = str(comment.get("plain_body") or comment.get("body") or "").strip()
    return words == body.strip() and (author is None or comment.get("author_id") == author)


def _next_page(page: dict) -> str:
    """The next page's link, '' on the last page."""
    more = (page.get("meta") or {}).get("has_more", bool(page.get("next_page")))
    return str((page.get("links") or {}).get("next") or page.get("next_page") or "") if more else ""
