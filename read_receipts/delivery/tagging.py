"""Ticket updates without a note: the tag of replies no person read in time, and the last-read field.

Each update is an update by the API user, paced within the same budgets as notes (the account's
updates a minute, the ticket's 10-minute window, the requester's share) and retried the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from read_receipts.delivery.dead_letters import or_set_aside
from read_receipts.delivery.pacing import Pacing
from read_receipts.delivery.ticket_work import TicketWork
from read_receipts.delivery.zendesk import Answer, TicketChange, ZendeskClient, ZendeskVerdict
from read_receipts.settings import Settings
from read_receipts.store.dead_letters import DeadLetters
from read_receipts.store.ticket_updates import TicketUpdate, TicketUpdates, TicketUpdateState
from read_receipts.store.tickets import Tickets

log = logging.getLogger(__name__)

SCAN_SECONDS = 60.0  # how often replies are looked at for one that went unread too long
LOOKBACK = 7 * 86400.0  # replies this much older than UNOPENED_AFTER_HOURS are not tagged any more
MARKS_PER_SCAN = 100  # tickets marked per scan: a backlog is spread over rounds


class Tagging(TicketWork):
    """Marks tickets whose reply went unread, and sends each ticket's wanted tag and field to Zendesk."""

    def __init__(
        self,
        updates: TicketUpdates,
        tickets: Tickets,
        dead_letters: DeadLetters,
        zendesk: ZendeskClient,
        settings: Settings,
        pacing: Pacing,
        lease: float,
        clock: Callable[[], float],
    ):
        super().__init__(tickets, dead_letters, zendesk, settings, pacing, lease, clock)
        self.updates = updates
        self._next_scan = 0.0

    @property
    def tag(self) -> str:
        """The tag of tickets with an unread reply ('' when that is off)."""
        return self.settings.unopened_tag if self.settings.unopened_after else ""

    def run(self, now: float) -> bool:
        """Mark tickets whose reply went unread too long, then send one due update; True if anything moved."""
        marked = self.mark_unread(now)
        return self.send_update(now) or marked

    def mark_unread(self, now: float) -> bool:
        """Once in a while, queue the tag for tickets with a reply no person read within UNOPENED_AFTER_HOURS."""
        after = self.settings.unopened_after
        if not self.tag or now < self._next_scan:
            return False
        self._next_scan = now + min(SCAN_SECONDS, max(1.0, after / 10))
        never = self.settings.opt_out_requesters
        marked = self.updates.mark_unread(now - after - LOOKBACK, now - after, now, MARKS_PER_SCAN, never)
        if marked:
            log.info(
                "%d tickets have a reply no person read within %g h: tagging them %s", marked, after / 3600, self.tag
            )
        return bool(marked)

    def send_update(self, now: float) -> bool:
        """Send the next due ticket update, if any; True if one was settled."""
        per_ticket = None if self.zendesk.dry_run else self.settings.updates_per_ticket
        rows = self.updates.claim(now, self.lease, limit=1, per_ticket=per_ticket)
        return any(
            or_set_aside(self.dead_letters, "ticket_updates", row.id, lambda row=row: self._send(row, now), True)
            for row in rows
        )

    def change_for(self, row: TicketUpdate) -> tuple[TicketChange, str | None, str | None]:
        """What to send for a ticket (the difference from what it was sent before), and what it then has."""
        wanted_tag = self.tag if self.tag and row.unread else None
        add = (wanted_tag,) if wanted_tag and wanted_tag != row.tag_sent else ()
        remove = (row.tag_sent,) if row.tag_sent and row.tag_sent != wanted_tag else ()
        field_value = row.field_sent
        fields: tuple[tuple[int, str], ...] = ()
        if self.settings.read_field_id and row.read_at is not None:
            field_value = _date(row.read_at, self.settings.note_timezone)
            if field_value != row.field_sent:
                fields = ((self.settings.read_field_id, field_value),)
        return TicketChange(add, remove, fields), wanted_tag, field_value

    def _send(self, row: TicketUpdate, now: float) -> bool:
        """Send one ticket's update and record the outcome."""
        change, tag_after, field_after = self.change_for(row)
        if not change:
            return self.updates.finish(row, TicketUpdateState.SKIPPED, self.clock(), row.tag_sent, row.field_sent)
        ticket = self.tickets.cached(row.ticket_id)
        if ticket is not None and ticket.final:
            error = f"ticket is {ticket.status}"
            return self.updates.finish(
                row, TicketUpdateState.FAILED, self.clock(), row.tag_sent, row.field_sent, None, error
            )
        wait = self.pacing.gate(now, row.ticket_id, ticket.requester_id if ticket is not None else None)
        if wait:  # back when the budget that refused frees
            self.updates.postpone(row, now + wait)
            return False
        if row.outcome_unknown and not self.zendesk.dry_run:
            looked = self.zendesk.ticket(row.ticket_id)
            self.pacing.observe(looked, now, f"reading ticket {row.ticket_id}")
            if looked.verdict != ZendeskVerdict.OK:
                return self._settle(row, change, looked, tag_after, field_after)  # gone for good, or try later
            if change.holds_in((looked.body or {}).get("ticket")):
                log.info("ticket %s had %s already: not sent again", row.ticket_id, change.describe())
                return self.updates.finish(row, TicketUpdateState.DONE, self.clock(), tag_after, field_after, 200)
        self.updates.record_try(row)
        answer = self.zendesk.update_ticket(row.ticket_id, change)
        self.pacing.observe(answer, now, f"updating ticket {row.ticket_id}")
        return self._settle(row, change, answer, tag_after, field_after)

    def _settle(
        self, row: TicketUpdate, change: TicketChange, answer: Answer, tag: str | None, field: str | None
    ) -> bool:
        """Record a made, refused or failed update."""
        if answer.verdict == ZendeskVerdict.OK:
            log.info("ticket %s updated: %s", row.ticket_id, change.describe())
            return self.updates.finish(row, TicketUpdateState.DONE, self.clock(), tag, field, answer.status)
        if answer.verdict == ZendeskVerdict.FINAL:
            self.remember_if_gone(row.ticket_id, answer)
            log.warning("ticket %s not updated (%s), for good: %s", row.ticket_id, change.describe(), answer.describe())
            state = TicketUpdateState.FAILED
            return self.updates.finish(
                row, state, self.clock(), row.tag_sent, row.field_sent, answer.status, answer.describe()
            )
        self.updates.release(row, self.retry_at(answer, row.attempts), answer.status, answer.describe())
        return False


def _date(moment: float, zone: str) -> str:
    """The day of a moment in the team's time zone, as a Zendesk date field takes it (YYYY-MM-DD)."""
    return datetime.fromtimestamp(moment, ZoneInfo(zone)).date().isoformat()
