"""The courier's jobs built on their own, over a real store and the Zendesk stand-in, without the app."""

from __future__ import annotations

import time
from dataclasses import dataclass

from config import load_settings
from read_receipts.delivery.pacing import Pacing
from read_receipts.delivery.parts import zendesk_for
from read_receipts.delivery.posting import Posting
from read_receipts.delivery.tagging import Tagging
from read_receipts.delivery.triage import Triage
from read_receipts.labels.openers import AddressRanges, Classifier, load_ranges
from read_receipts.settings import Settings
from read_receipts.store import Stores
from tests.conftest import THUNDERBIRD_AGENT

LEASE = 30.0


@dataclass
class Parts:
    """A store, the settings, and the pacing every job of one worker shares."""

    stores: Stores
    settings: Settings
    pacing: Pacing

    def triage(self, classifier: Classifier | None = None) -> Triage:
        """A triage job of its own (a lane)."""
        s = self.stores
        labeller = classifier or Classifier(load_ranges(), AddressRanges(()))
        zendesk = self.pacing.zendesk
        args = (s.opens, s.tickets, s.budgets, s.dead_letters, zendesk, self.settings, self.pacing, LEASE, labeller)
        return Triage(*args)

    def posting(self) -> Posting:
        """A posting job of its own."""
        s = self.stores
        return Posting(
            s.deliveries,
            s.replies,
            s.tickets,
            s.opens,
            s.dead_letters,
            self.pacing.zendesk,
            self.settings,
            self.pacing,
            LEASE,
            clock=time.time,
        )

    def tagging(self, clock=time.time) -> Tagging:
        """A tagging job of its own, on a clock the test may set."""
        s = self.stores
        zendesk = self.pacing.zendesk
        return Tagging(s.ticket_updates, s.tickets, s.dead_letters, zendesk, self.settings, self.pacing, LEASE, clock)


def parts(database_url: str, zendesk, **env: str) -> Parts:
    """The parts of one worker, on a store at this release's schema, talking to the stand-in."""
    settings = load_settings({"DATABASE_URL": database_url, **zendesk.env(), **env})
    stores = Stores(settings.database_url)
    return Parts(stores, settings, Pacing(stores.budgets, stores.tallies, zendesk_for(settings), settings))


def record_open(parts: Parts, ticket_id: int, requester_id: int | None, **values) -> None:
    """Store one pixel load, as the spool drain does."""
    row = {"ticket_id": ticket_id, "requester_id": requester_id, "comment_id": None, "opened_at": time.time()}
    parts.stores.opens.record({**row, "ip": "203.0.113.5", "user_agent": THUNDERBIRD_AGENT, "sent": None, **values})


def run_until_idle(job, rounds: int = 50) -> None:
    """Run a job's rounds until one moves nothing."""
    for _ in range(rounds):
        if not job(time.time()):
            return
