"""What the two jobs that change tickets share: posting notes and sending ticket updates.

Both are paced work over the ticket cache, set aside rows they fail on, run on a settable clock, and
read Zendesk's final answers alike: a 404 means the ticket is gone, a 422 that it is closed.
"""

from __future__ import annotations

from collections.abc import Callable

from read_receipts.delivery.pacing import PacedWork, Pacing
from read_receipts.delivery.zendesk import Answer, ZendeskClient
from read_receipts.settings import Settings
from read_receipts.store.dead_letters import DeadLetters
from read_receipts.store.tickets import Tickets, TicketStatus

# What each final answer of Zendesk says of the ticket.
GONE = {404: TicketStatus.DELETED, 422: TicketStatus.CLOSED}


class TicketWork(PacedWork):
    """Paced work that changes tickets: notes and ticket updates."""

    def __init__(
        self,
        tickets: Tickets,
        dead_letters: DeadLetters,
        zendesk: ZendeskClient,
        settings: Settings,
        pacing: Pacing,
        lease: float,
        clock: Callable[[], float],
    ):
        super().__init__(zendesk, settings, pacing, lease)
        self.tickets = tickets
        self.dead_letters = dead_letters
        self.clock = clock

    def remember_if_gone(self, ticket_id: int, answer: Answer) -> None:
        """Keep what a final answer says of the ticket (deleted or closed), so nothing more is tried on it."""
        if answer.status in GONE:
            self.tickets.remember(ticket_id, None, GONE[answer.status], self.clock())

    def retry_at(self, answer: Answer, attempts: int) -> float:
        """When to try a failed change again."""
        return self.clock() + self.pacing.retry_delay(answer, attempts)
