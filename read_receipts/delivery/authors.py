"""Authors' names Zendesk did not side-load with a ticket's comments: read one by one, paced, and kept.

Zendesk sometimes answers the comments without `users`. Each author missing then costs one
`GET /api/v2/users/{id}.json`, within the account's request budget, and is kept in memory, so a
busy agent costs one read per process. A read that fails leaves the name out: the note names
the reply by its time only, and the author is not asked for again before FORGET_FAILURE.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from read_receipts.delivery.pacing import Pacing
from read_receipts.delivery.zendesk import ZendeskClient, ZendeskVerdict
from read_receipts.store.tickets import PublicComment

READS_PER_LISTING = 3  # user reads per read of a ticket's comments: bounded, however many authors it has
KEPT = 1000  # authors kept in memory, the least recently used forgotten first
FORGET_FAILURE = 600.0  # seconds before an author whose read failed is asked for again


class AuthorNames:
    """Fills in the names of comment authors Zendesk did not side-load."""

    def __init__(self, zendesk: ZendeskClient, pacing: Pacing):
        self.zendesk = zendesk
        self.pacing = pacing
        self._known: OrderedDict[int, tuple[str | None, float]] = OrderedDict()  # id -> (name, kept until)

    def named(self, comments: list[PublicComment], now: float) -> list[PublicComment]:
        """The comments with every author's name that is kept or can be read now."""
        # in the order Zendesk lists them, newest first: the latest replies are the ones being opened
        missing = dict.fromkeys(c.author_id for c in comments if c.author_name is None and c.author_id is not None)
        names: dict[int, str | None] = {}
        reads = 0
        for author_id in missing:
            if self._kept(author_id, now) or reads < READS_PER_LISTING:
                names[author_id], asked = self._name(author_id, now)
                reads += asked
        return [
            replace(c, author_name=names[c.author_id]) if c.author_name is None and names.get(c.author_id) else c
            for c in comments
        ]

    def _kept(self, author_id: int, now: float) -> bool:
        """Whether an author's name (or a recent failure to read it) is kept."""
        kept = self._known.get(author_id)
        return kept is not None and kept[1] > now

    def _name(self, author_id: int, now: float) -> tuple[str | None, bool]:
        """An author's name, kept or read now (None when it cannot be had), and whether Zendesk was asked."""
        if self._kept(author_id, now):
            self._known.move_to_end(author_id)
            return self._known[author_id][0], False
        if self.pacing.gate(now):
            return None, False  # no budget this minute: the name is left out, not waited for
        answer = self.zendesk.user(author_id)
        self.pacing.observe(answer, now, f"reading user {author_id}")
        user = (answer.body or {}).get("user") if answer.verdict == ZendeskVerdict.OK else None
        name = _name_of(user)
        self._keep(author_id, name, float("inf") if name else now + FORGET_FAILURE)
        return name, True

    def _keep(self, author_id: int, name: str | None, until: float) -> None:
        """Keep what was learnt of an author, forgetting the least recently used beyond KEPT."""
        self._known[author_id] = (name, until)
        self._known.move_to_end(author_id)
        while len(self._known) > KEPT:
            self._known.popitem(last=False)


def _name_of(user) -> str | None:
    """A user's name from Zendesk's JSON, trimmed as the comments keep it; None without one."""
    name = user.get("name") if isinstance(user, dict) else None
    return (name.strip()[:120] or None) if isinstance(name, str) else None
