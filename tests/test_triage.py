"""Triage on its own: verdicts, requester checks and labels, over a real store and the Zendesk stand-in."""

from __future__ import annotations

import threading
import time
from collections import Counter

from read_receipts.labels.openers import AddressRanges, Classifier, load_ranges
from read_receipts.store.opens import OpenState
from read_receipts.store.replies import NoteKind
from tests.jobs import parts, record_open, run_until_idle


def test_triage_notes_the_requesters_first_open_and_rejects_a_forged_requester(database_url, zendesk):
    worker = parts(database_url, zendesk)
    record_open(worker, 42, 7, comment_id=9001)
    record_open(worker, 42, 8)  # not the ticket's requester
    record_open(worker, 43, None)  # nothing to check against
    run_until_idle(worker.triage().run)
    states = [worker.stores.opens.by_id(i).state for i in (1, 2, 3)]
    assert states == [OpenState.NOTED, OpenState.REJECTED, OpenState.UNVERIFIED]
    [note] = worker.stores.deliveries.for_ticket(42)
    assert (note.kind, note.open_id, note.reply_key) == (NoteKind.FIRST, 1, 9001)
    assert worker.stores.tickets.cached(42).requester_id == 7
    assert zendesk.count_calls("GET", "/api/v2/tickets/42") == 1  # one check for both opens of the ticket
    worker.stores.close()


def test_an_open_of_a_closed_ticket_is_closed_and_gets_no_note(database_url, zendesk):
    zendesk.add_ticket(44, requester_id=7, status="closed")
    worker = parts(database_url, zendesk)
    record_open(worker, 44, 7)
    run_until_idle(worker.triage().run)
    assert worker.stores.opens.by_id(1).state == OpenState.CLOSED
    assert worker.stores.deliveries.for_ticket(44) == []
    worker.stores.close()


class CountingClassifier(Classifier):
    """The shipped classifier, counting the opens it labels (by User-Agent, unique per open here)."""

    def __init__(self):
        super().__init__(load_ranges(), AddressRanges(()))
        self.labelled: Counter[str] = Counter()
        self._lock = threading.Lock()

    def classify(self, user_agent, ip, seconds_after_send=None):
        with self._lock:
            self.labelled[user_agent] += 1
        time.sleep(0.001)  # a costly label: both lanes are surely mid-batch together
        return super().classify(user_agent, ip, seconds_after_send)


def test_two_lanes_never_label_the_same_open(database_url, zendesk):
    worker = parts(database_url, zendesk)
    count = 300
    for i in range(count):  # no requester: decided at once, no Zendesk call
        record_open(worker, 1000 + i, None, user_agent=f"Mozilla/5.0 Thunderbird/128.{i}")
    classifier = CountingClassifier()
    lanes = [worker.triage(classifier), worker.triage(classifier)]
    start = threading.Barrier(len(lanes))

    def lane(triage) -> None:
        start.wait()
        run_until_idle(triage.run, rounds=200)

    threads = [threading.Thread(target=lane, args=(triage,)) for triage in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(classifier.labelled.values()) == count and set(classifier.labelled.values()) == {1}
    assert all(worker.stores.opens.by_id(i + 1).state == OpenState.UNVERIFIED for i in range(count))
    worker.stores.close()
