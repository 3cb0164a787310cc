"""Posting on its own: one due note posted, and its outcome recorded, over a real store and the Zendesk stand-in."""

from __future__ import annotations

import time

from read_receipts.labels.openers import PERSON
from read_receipts.store.deliveries import DeliveryState
from read_receipts.store.opens import OpenState, Verdict
from read_receipts.store.tickets import TicketStatus
from tests.jobs import parts, record_open


def queue_first_note(worker, ticket_id: int, comment_id: int) -> None:
    """Count one open of a reply, as triage settles it: its first note is queued."""
    record_open(worker, ticket_id, 7, comment_id=comment_id)
    [opened] = worker.stores.opens.decidable(verify=False, limit=10)
    verdict = Verdict(opened, OpenState.COUNTED, "Thunderbird", PERSON)
    worker.stores.opens.settle([verdict], time.time(), interval=3600)


def test_posting_posts_a_due_first_note_and_moves_the_reply_on(database_url, zendesk):
    worker = parts(database_url, zendesk)
    queue_first_note(worker, 42, 9001)
    posting = worker.posting()
    assert posting.send_note(time.time()) is True
    [note] = zendesk.notes_on(42)
    assert note.body.startswith("Read receipt: the requester opened a reply on this ticket in Thunderbird")
    [delivery] = worker.stores.deliveries.for_ticket(42)
    assert delivery.state == DeliveryState.DONE and delivery.last_status == 200
    assert worker.stores.replies.get(42, 9001).opens_noted == 1
    assert posting.send_note(time.time()) is False  # nothing else is due
    worker.stores.close()


def test_a_note_for_a_ticket_zendesk_does_not_have_fails_for_good(database_url, zendesk):
    worker = parts(database_url, zendesk)
    queue_first_note(worker, 77, 1)  # the stand-in has no ticket 77
    worker.posting().send_note(time.time())
    [delivery] = worker.stores.deliveries.for_ticket(77)
    assert (delivery.state, delivery.last_status) == (DeliveryState.FAILED, 404)
    assert worker.stores.tickets.cached(77).status == TicketStatus.DELETED
    assert zendesk.comments == []
    worker.stores.close()


def test_a_failed_post_is_given_back_for_a_later_try(database_url, zendesk):
    worker = parts(database_url, zendesk)
    queue_first_note(worker, 42, 9001)
    zendesk.fail_next(503)
    assert worker.posting().send_note(time.time()) is False
    [delivery] = worker.stores.deliveries.for_ticket(42)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DeliveryState.PENDING, 1, 503)
    assert delivery.due_at > time.time()
    worker.stores.close()


def test_a_note_that_reached_zendesk_unanswered_is_found_there_not_posted_again(database_url, zendesk):
    worker = parts(database_url, zendesk, ZENDESK_TIMEOUT="1")
    queue_first_note(worker, 42, 9001)
    zendesk.fail_next(("slow", 2))  # Zendesk takes the note, but answers after the courier gave up
    posting = worker.posting()
    assert posting.send_note(time.time()) is False
    [tried] = worker.stores.deliveries.for_ticket(42)
    assert tried.state == DeliveryState.PENDING and tried.outcome_unknown
    [note] = zendesk.wait_for_notes(1, ticket_id=42)
    assert posting.send_note(time.time() + 10) is True  # past its retry time and the pause after a failure
    [delivery] = worker.stores.deliveries.for_ticket(42)
    assert (delivery.state, delivery.last_status) == (DeliveryState.DONE, 200)
    assert worker.stores.replies.get(42, 9001).opens_noted == 1
    time.sleep(0.5)
    assert zendesk.notes_on(42) == [note]  # once
    assert zendesk.count_calls("GET") >= 1  # it looked
    worker.stores.close()


def test_a_note_tried_unanswered_and_not_on_the_ticket_is_posted_with_the_same_words(database_url, zendesk):
    worker = parts(database_url, zendesk)
    queue_first_note(worker, 42, 9001)
    zendesk.fail_next("drop")  # the connection dropped before Zendesk took anything
    posting = worker.posting()
    assert posting.send_note(time.time()) is False
    [tried] = worker.stores.deliveries.for_ticket(42)
    assert posting.send_note(time.time() + 10) is True  # past its retry time and the pause after a failure
    [note] = zendesk.notes_on(42)
    assert note.body == tried.body and note.public is False
    assert worker.stores.deliveries.for_ticket(42)[0].state == DeliveryState.DONE
    worker.stores.close()
