"""The durable store: every table, and the reads and writes of each job."""

from read_receipts.store.budgets import BudgetStore
from read_receipts.store.dead_letters import DeadLetterStore
from read_receipts.store.events import EventStore
from read_receipts.store.opens import OpenStore, Verdict
from read_receipts.store.outbox import OutboxStore
from read_receipts.store.privacy import PrivacyStore
from read_receipts.store.replies import ReplyStore
from read_receipts.store.rollups import RollupStore
from read_receipts.store.spooling import SpoolStore
from read_receipts.store.tickets import TicketStore


class Store(
    OpenStore,
    ReplyStore,
    TicketStore,
    OutboxStore,
    EventStore,
    BudgetStore,
    RollupStore,
    PrivacyStore,
    SpoolStore,
    DeadLetterStore,
):
    """All reads and writes of the service's tables."""


__all__ = ["Store", "Verdict"]
