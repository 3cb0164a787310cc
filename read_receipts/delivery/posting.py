"""Posting notes: claiming one due delivery, writing its words, posting it and recording the outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable

from read_receipts.delivery import notes
from read_receipts.delivery.dead_letters import or_set_aside
from read_receipts.delivery.pacing import Pacing
from read_receipts.delivery.posted_notes import Lookup, PostedNotes
from read_receipts.delivery.ticket_work import TicketWork
from read_receipts.delivery.zendesk import Answer, ZendeskClient, ZendeskVerdict
from read_receipts.labels.openers import APPLE_PRELOAD, PERSON
from read_receipts.settings import Settings
from read_receipts.store.dead_letters import DeadLetters
from read_receipts.store.deliveries import Deliveries, Delivery, DeliveryState
from read_receipts.store.opens import Opens
from read_receipts.store.replies import Covered, NoteKind, Replies, Reply
from read_receipts.store.tickets import Ticket, Tickets, TicketStatus

log = logging.getLogger(__name__)


class Posting(TicketWork):
    """Posts queued notes to Zendesk as private comments, one at a time."""

    def __init__(
        self,
        deliveries: Deliveries,
        replies: Replies,
        tickets: Tickets,
        opens: Opens,
        dead_letters: DeadLetters,
        zendesk: ZendeskClient,
        settings: Settings,
        pacing: Pacing,
        lease: float,
        clock: Callable[[], float],
    ):
        super().__init__(tickets, dead_letters, zendesk, settings, pacing, lease, clock)
        self.deliveries = deliveries
        self.replies = replies
        self.opens = opens
        self.posted = PostedNotes(zendesk, settings, pacing, lease)

    def send_note(self, now: float) -> bool:
        """Post the next due note, if any; True if one was settled."""
        if self.zendesk.dry_run:
            return False  # notes queued with Zendesk's word wait for it to come back, never dropped as "logged"
        shares = (self.settings.updates_per_ticket, self.pacing.requester_share())
        rows = self.deliveries.claim(now, self.lease, limit=1, shares=shares)
        return any(self._deliver_or_set_aside(row, now) for row in rows)

    def _deliver_or_set_aside(self, row: Delivery, now: float) -> bool:
        """Deliver one note; a delivery our own code fails on is set aside, and the others go on."""
        return or_set_aside(self.dead_letters, "deliveries", row.id, lambda: self._deliver(row, now), fallback=True)

    def _deliver(self, row: Delivery, now: float) -> bool:
        """Post one note and record the outcome."""
        ticket = self.tickets.cached(row.ticket_id)
        if row.outcome_unknown:  # the same words again, so that they can be found, and the same opens covered
            covered, body = self._covered_before(row), row.body or ""
        else:
            reply = self.replies.get(row.ticket_id, row.reply_key)
            if row.kind == NoteKind.SUMMARY and reply.opens_noted == 0:
                self.deliveries.postpone(row, now + 30)  # the first note goes first
                return False
            covered, body = self._note_text(row, reply, ticket)
        finish = self._finisher(row, covered)
        if not body:
            return finish(DeliveryState.SKIPPED, None, "")
        if ticket is not None and ticket.final:
            return finish(DeliveryState.FAILED, None, f"ticket is {ticket.status}")
        if row.outcome_unknown and not self.zendesk.dry_run:
            lookup = self.posted.find(row.ticket_id, body, now)
            if lookup.found is None:
                return self._not_looked(row, lookup, now, finish)
            if lookup.found:
                log.info("note for ticket %s (%s) was on the ticket already: not posted again", row.ticket_id, row.kind)
                return finish(DeliveryState.DONE, lookup.answer.status, "")
        wait = self.pacing.gate(now, row.ticket_id, ticket.requester_id if ticket is not None else None)
        if wait:  # back when the budget that refused frees, not re-examined every few seconds
            self.deliveries.postpone(row, now + wait)
            return False
        self.deliveries.record_try(row, body, covered.opens)
        answer = self.zendesk.add_private_note(row.ticket_id, body, self._tag(covered))
        self.pacing.observe(answer, now, f"adding a note to ticket {row.ticket_id}")
        return self._settle_note(row, answer, finish)

    def _not_looked(self, row: Delivery, lookup: Lookup, now: float, finish) -> bool:
        """The ticket's comments could not be read: try again later (a deleted ticket ends the delivery)."""
        if lookup.answer is None:  # no budget this minute
            self.deliveries.postpone(row, now + lookup.wait)
            return False
        if lookup.answer.status == 404:
            self.tickets.remember(row.ticket_id, None, TicketStatus.DELETED, self.clock())
            return finish(DeliveryState.FAILED, 404, lookup.answer.describe())
        due = self.retry_at(lookup.answer, row.attempts)
        self.deliveries.release(row, due, lookup.answer.status, lookup.answer.describe())
        return False

    def _covered_before(self, row: Delivery) -> Covered:
        """What a note tried before covered: its open's kind for a first note; for a summary, the opens it
        counted, and of each kind what the reply holds now (at most: the try kept its total only)."""
        opens = row.covered or 0
        if row.kind == NoteKind.FIRST:
            opened = self.opens.by_id(row.open_id)
            kind = (opened.kind if opened is not None else None) or PERSON
            return Covered(opens, int(kind == PERSON), int(kind == APPLE_PRELOAD))
        reply = self.replies.get(row.ticket_id, row.reply_key)
        return Covered(opens, min(opens, reply.person_opens), min(opens, reply.preload_opens))

    def _note_text(self, row: Delivery, reply: Reply, ticket: Ticket | None) -> tuple[Covered, str]:
        """Return the opens a note covers and its words ('' when nothing is left to say)."""
        words = notes.words(self.settings.note_language, self.settings.note_timezone)
        named = named_reply(self.tickets, self.replies, row, reply, ticket)
        if row.kind == NoteKind.FIRST:
            opened = self.opens.by_id(row.open_id)
            kind, client = opened.kind or PERSON, opened.client or ""
            covered = Covered(1, int(kind == PERSON), int(kind == APPLE_PRELOAD))
            return covered, words.first_open(opened.opened_at, named, kind, client, reply.sent_at)
        covered = Covered(reply.opens, reply.person_opens, reply.preload_opens)
        if reply.opens - reply.opens_noted <= 0:
            return covered, ""
        return covered, words.more_opens(waiting_loads(reply), reply.last_open_at, named)

    def _tag(self, covered: Covered) -> str:
        """NOTE_TAG for a note telling of a person's read, PRELOAD_TAG for one of Apple's preloads only."""
        if covered.person:
            return self.settings.note_tag
        return self.settings.preload_tag if covered.preload else ""

    def _finisher(self, row: Delivery, covered: Covered) -> Callable[[DeliveryState, int | None, str], bool]:
        """Bind the arguments every final outcome of one delivery shares."""

        def finish(state: DeliveryState, status: int | None, error: str) -> bool:
            """Record the delivery's final outcome; True, for it was settled."""
            self.deliveries.finish(row, state, self.clock(), self.settings.note_interval, covered, status, error)
            return True

        return finish

    def _settle_note(self, row: Delivery, answer: Answer, finish) -> bool:
        """Record a posted, refused or failed note."""
        if answer.verdict == ZendeskVerdict.OK:
            log.info("note added to ticket %s (%s)", row.ticket_id, row.kind)
            return finish(DeliveryState.LOGGED if self.zendesk.dry_run else DeliveryState.DONE, answer.status, "")
        if answer.verdict == ZendeskVerdict.FINAL:
            self.remember_if_gone(row.ticket_id, answer)
            log.warning("note for ticket %s not posted, for good: %s", row.ticket_id, answer.describe())
            return finish(DeliveryState.FAILED, answer.status, answer.describe())
        self.deliveries.release(row, self.retry_at(answer, row.attempts), answer.status, answer.describe())
        return False


def named_reply(
    tickets: Tickets, replies: Replies, row: Delivery, reply: Reply, ticket: Ticket | None
) -> notes.NamedReply:
    """How a note names its reply: the comment's time and author as Zendesk listed them, else its send time."""
    ccs = ticket.ccs if ticket is not None else 0
    if not row.reply_key:  # the pixel did not say which reply, or named one the ticket does not have
        return notes.NamedReply(None, None, ccs)
    comment = tickets.comment(row.ticket_id, row.reply_key)
    author = replies.author(row.ticket_id, row.reply_key) or (comment.author_name if comment else None)
    written = comment.created_at if comment is not None and comment.created_at is not None else reply.sent_at
    return notes.NamedReply(written, author, ccs)


def waiting_loads(reply: Reply) -> notes.SummedLoads:
    """The loads of a reply no note told of yet, by what they were: what its next summary says."""
    count = reply.opens - reply.opens_noted
    reads = max(0, reply.person_opens - reply.person_noted)
    preloads = max(0, reply.preload_opens - reply.preload_noted)
    return notes.SummedLoads(reads, preloads, max(0, count - reads - preloads))
