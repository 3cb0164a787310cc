"""Zendesk failing in every documented way: nothing lost, nothing doubled, no waiting pixel."""

from __future__ import annotations

import threading
import time

import pytest

from read_receipts.delivery.courier import AUTH_RETRY, MAX_BACKOFF
from read_receipts.store import Stores
from tests.conftest import drain, unspool

PIXEL = "/pixel.gif?ticket_id=42&requester_id=7&comment_id=5"


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll a condition until it holds or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_pixel_answers_while_zendesk_hangs(make_app, zendesk):
    app = make_app()
    client = app.test_client()
    zendesk.gate.clear()
    app.extensions["courier"].start()
    client.get(PIXEL)
    assert wait_until(lambda: zendesk.waiting == 1), "the courier should be waiting on Zendesk"
    response = client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=6")
    assert response.status_code == 200 and response.data.startswith(b"GIF89a")
    assert zendesk.waiting == 1 and zendesk.comments == []
    zendesk.gate.set()
    assert len(zendesk.wait_for_notes(2, ticket_id=42)) == 2


@pytest.mark.parametrize("fault", [500, 502, 503, 409, "drop", ("slow", 3)])
def test_transient_failures_of_the_note_are_retried_once_each(service, zendesk, fault):
    client, courier, store = service(VERIFY_REQUESTER="false", ZENDESK_TIMEOUT="1")
    zendesk.fail_next(fault)
    client.get(PIXEL)
    drain(courier)
    assert zendesk.comments == []
    [delivery] = store.deliveries.for_ticket(42)
    assert delivery.state == "pending" and delivery.last_error
    courier.clock.advance(MAX_BACKOFF + 1)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1
    assert store.deliveries.for_ticket(42)[0].state == "done"


@pytest.mark.parametrize("fault", [503, "drop", ("slow", 3)])
def test_verification_that_cannot_be_made_is_retried_not_rejected(service, zendesk, fault):
    client, courier, store = service(ZENDESK_TIMEOUT="1")
    zendesk.fail_next(fault)
    client.get(PIXEL)
    drain(courier)
    assert zendesk.comments == [] and store.opens.by_id(1).state == "new"
    courier.clock.advance(MAX_BACKOFF + 1)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1


def test_retry_after_pauses_every_worker(service, make_app, zendesk):
    client, courier, store = service(VERIFY_REQUESTER="false")
    other = make_app(VERIFY_REQUESTER="false").extensions["courier"]
    other.clock = courier.clock
    zendesk.fail_next((429, 120))
    client.get(PIXEL)
    drain(courier)
    assert zendesk.count_calls() == 1
    courier.clock.advance(100)
    drain(courier)
    drain(other)
    assert zendesk.count_calls() == 1, "no call before Retry-After has passed"
    courier.clock.advance(25)
    drain(other)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1


def test_closed_ticket_is_final_and_recorded(service, zendesk):
    zendesk.add_ticket(50, requester_id=7, status="closed")
    client, courier, store = service(VERIFY_REQUESTER="false")
    client.get("/pixel.gif?ticket_id=50&comment_id=1")
    drain(courier)
    [delivery] = store.deliveries.for_ticket(50)
    assert (delivery.state, delivery.last_status) == ("failed", 422)
    assert "RecordInvalid" in delivery.last_error
    client.get("/pixel.gif?ticket_id=50&comment_id=2")
    courier.clock.advance(3 * 3600)
    drain(courier)
    assert zendesk.count_calls("PUT") == 1, "a closed ticket is not tried again"


def test_closed_ticket_seen_at_verification_gets_no_update(service, zendesk):
    zendesk.add_ticket(51, requester_id=7, status="closed")
    client, courier, store = service()
    client.get("/pixel.gif?ticket_id=51&requester_id=7")
    drain(courier)
    assert zendesk.count_calls("PUT") == 0 and store.opens.by_id(1).state == "closed"


def test_deleted_ticket_is_final(service, zendesk):
    client, courier, store = service(VERIFY_REQUESTER="false")
    client.get("/pixel.gif?ticket_id=99")
    drain(courier)
    courier.clock.advance(3600)
    drain(courier)
    [delivery] = store.deliveries.for_ticket(99)
    assert (delivery.state, delivery.last_status) == ("failed", 404)
    assert zendesk.count_calls("PUT") == 1


def test_wrong_credentials_are_loud_keep_the_note_and_retry_slowly(service, zendesk, caplog):
    client, courier, store = service(ZENDESK_API_TOKEN="s3cr3t-wrong-value", VERIFY_REQUESTER="false")
    client.get(PIXEL)
    with caplog.at_level("INFO"):
        drain(courier)
    assert "Zendesk refused the credentials" in caplog.text and "ZENDESK_API_TOKEN" in caplog.text
    assert "s3cr3t-wrong-value" not in caplog.text
    assert store.deliveries.for_ticket(42)[0].state == "pending"
    zendesk.token = "s3cr3t-wrong-value"  # the admin fixes the token in Zendesk
    courier.clock.advance(AUTH_RETRY / 2)
    drain(courier)
    assert zendesk.comments == [], "retried slowly"
    courier.clock.advance(AUTH_RETRY)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1


def test_every_note_arrives_after_an_hour_long_outage(service, zendesk):
    client, courier, store = service()
    for ticket in range(100, 120):
        zendesk.add_ticket(ticket, requester_id=7)
    zendesk.down = True
    for ticket in range(100, 120):
        client.get(f"/pixel.gif?ticket_id={ticket}&requester_id=7")
    for _ in range(120):  # one hour in 30-second steps
        courier.clock.advance(30)
        drain(courier)
    outage_calls = zendesk.count_calls()
    assert zendesk.comments == [] and outage_calls <= 2 * 120, "paced during the outage"
    zendesk.down = False
    for _ in range(int(MAX_BACKOFF / 30) + 2):
        courier.clock.advance(30)
        drain(courier)
    assert sorted(note.ticket_id for note in zendesk.comments) == list(range(100, 120))
    assert store.tallies.pending_count() == 0


def test_notes_waiting_on_an_outage_go_as_soon_as_zendesk_answers_again(service, zendesk, caplog):
    client, courier, store = service(VERIFY_REQUESTER="false")
    zendesk.down = True
    for ticket in range(400, 406):
        zendesk.add_ticket(ticket, requester_id=7)
    for ticket in range(400, 405):
        client.get(f"/pixel.gif?ticket_id={ticket}")
    for _ in range(40):  # twenty minutes down: the notes have backed off
        courier.clock.advance(30)
        drain(courier)
    zendesk.down = False
    courier.clock.advance(6)  # past the pause that follows a failure
    client.get("/pixel.gif?ticket_id=405")  # a fresh open finds Zendesk back
    with caplog.at_level("INFO"):
        drain(courier)
    assert "Zendesk answers again" in caplog.text
    waiting = [d for t in range(400, 406) for d in store.deliveries.for_ticket(t) if d.state == "pending"]
    assert all(d.due_at <= courier.clock.now for d in waiting), "nothing waits out its backoff any longer"
    courier.clock.advance(6)
    drain(courier)
    assert sorted(note.ticket_id for note in zendesk.comments) == list(range(400, 406))


def test_updates_are_paced_under_the_account_limit(service, zendesk):
    client, courier, _ = service(VERIFY_REQUESTER="false", ZENDESK_UPDATES_PER_MINUTE="40")
    for ticket in range(200, 290):
        zendesk.add_ticket(ticket, requester_id=7)
        client.get(f"/pixel.gif?ticket_id={ticket}")
    drain(courier, rounds=500)
    assert len(zendesk.comments) == 40
    courier.clock.advance(61)
    drain(courier, rounds=500)
    assert len(zendesk.comments) == 80
    courier.clock.advance(61)
    drain(courier, rounds=500)
    assert len(zendesk.comments) == 90 and zendesk.violations == []


def test_updates_are_paced_under_the_per_ticket_limit(service, zendesk):
    client, courier, _ = service(VERIFY_REQUESTER="false")
    for reply in range(1, 16):
        client.get(f"/pixel.gif?ticket_id=42&comment_id={reply}")
    drain(courier, rounds=500)
    assert len(zendesk.notes_on(42)) == 10
    courier.clock.advance(601)
    drain(courier, rounds=500)
    assert len(zendesk.notes_on(42)) == 15 and zendesk.violations == []


def test_racing_workers_post_each_note_exactly_once(make_app, zendesk, database_url):
    # budgets wide enough to check and note all 30 tickets of one requester at once
    limits = {"ZENDESK_REQUESTS_PER_MINUTE": "600", "ZENDESK_UPDATES_PER_MINUTE": "300"}
    apps = [make_app(database_url, **limits) for _ in range(4)]
    client = apps[0].test_client()
    for ticket in range(300, 330):
        zendesk.add_ticket(ticket, requester_id=7)
        for _ in range(3):
            client.get(f"/pixel.gif?ticket_id={ticket}&requester_id=7&comment_id=1")
    threads = [threading.Thread(target=drain, args=(app.extensions["courier"],)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(note.ticket_id for note in zendesk.comments) == list(range(300, 330))
    assert zendesk.count_calls("GET", "/api/v2/tickets/3") == 30, "each ticket checked once"


def test_pixel_answers_even_when_the_store_fails(app, caplog):
    store: Stores = app.extensions["store"]
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE opens")
    response = app.test_client().get(PIXEL)
    assert response.status_code == 200 and response.data.startswith(b"GIF89a")
    assert app.test_client().get("/healthz").json["spool"]["bytes"] > 0  # it waits in the spool
    with pytest.raises(Exception, match="opens"):
        unspool(app)
    assert app.test_client().get("/healthz").json["spool"]["bytes"] > 0  # and still does
