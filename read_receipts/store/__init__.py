"""The durable store: one module per queue (its states, its records, the only writer of its state), and the rest.

`Stores(url)` opens the store once and holds one narrow part per table or queue, all on one engine:
`.opens`, `.tickets`, `.replies`, `.deliveries`, `.webhooks`, `.events`, `.budgets`, `.tallies`,
`.privacy`, `.dead_letters`, `.spool` and `.ticket_updates`. A job takes only the parts it uses.
"""

from __future__ import annotations

from read_receipts.store.budgets import Budgets
from read_receipts.store.database import Database
from read_receipts.store.dead_letters import DeadLetters
from read_receipts.store.deliveries import Deliveries
from read_receipts.store.events import Events
from read_receipts.store.figures import Tallies
from read_receipts.store.opens import Opens
from read_receipts.store.privacy import Privacy
from read_receipts.store.replies import Replies
from read_receipts.store.spooling import SpoolStore
from read_receipts.store.ticket_updates import TicketUpdates
from read_receipts.store.tickets import Tickets
from read_receipts.store.webhook_calls import WebhookCalls


class Stores(Database):
    """The parts of the store, sharing one engine (ping, reading and close are the engine's)."""

    def __init__(self, source: str | Database):
        super().__init__(source)
        self.opens = Opens(self)
        self.tickets = Tickets(self)
        self.replies = Replies(self)
        self.deliveries = Deliveries(self)
        self.webhooks = WebhookCalls(self)
        self.events = Events(self)
        self.budgets = Budgets(self)
        self.tallies = Tallies(self)
        self.privacy = Privacy(self)
        self.dead_letters = DeadLetters(self)
        self.spool = SpoolStore(self)
        self.ticket_updates = TicketUpdates(self)


__all__ = ["Stores"]
