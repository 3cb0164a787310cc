"""Pacing on its own: the budgets and pauses every worker shares through a real store."""

from __future__ import annotations

import time

from read_receipts.delivery.pacing import Pacing
from read_receipts.delivery.zendesk import Answer
from tests.jobs import parts


def another_worker(worker) -> Pacing:
    """The pacing of another worker on the same store (sharing nothing but the store)."""
    s = worker.stores
    return Pacing(s.budgets, s.tallies, worker.pacing.zendesk, worker.settings)


def test_the_minute_budget_is_shared_by_every_worker(database_url, zendesk):
    worker = parts(database_url, zendesk, ZENDESK_REQUESTS_PER_MINUTE="3")
    other = another_worker(worker)
    now = time.time()
    assert [worker.pacing.gate(now), other.gate(now), worker.pacing.gate(now)] == [0.0, 0.0, 0.0]
    wait = other.gate(now)
    assert 0 < wait <= 60  # until the window frees
    assert worker.pacing.gate(now + 61) == 0.0
    worker.stores.close()


def test_a_rate_limit_answer_pauses_every_worker_for_its_retry_after(database_url, zendesk):
    worker = parts(database_url, zendesk)
    now = time.time()
    worker.pacing.observe(Answer(429, retry_after=30), now, "posting a note")
    assert another_worker(worker).gate(now) == 30
    assert worker.stores.tallies.figures(now)["tallies"]["zendesk:429"] == 1
    worker.stores.close()


def test_a_note_budget_of_one_ticket_leaves_other_tickets_their_notes(database_url, zendesk):
    worker = parts(database_url, zendesk, ZENDESK_UPDATES_PER_TICKET="1")
    now = time.time()
    assert worker.pacing.gate(now, note_for=42) == 0.0
    assert worker.pacing.gate(now, note_for=42) > 0  # ten minutes per ticket
    assert worker.pacing.gate(now, note_for=43) == 0.0
    worker.stores.close()
