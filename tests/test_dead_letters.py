"""Poison rows: a row the courier fails on is set aside with its error, and every other row is delivered."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from sqlalchemy import create_engine, insert

from app import create_app
from config import load_settings
from read_receipts.store.schema import deliveries, events, opens, webhooks
from tests.conftest import drain
from tests.test_server import Service, services  # noqa: F401 (the fixture)
from tests.test_webhooks import SECRET, Receiver

KEY = "k" * 40
ADMIN = {"ADMIN_USER": "lead", "ADMIN_PASSWORD": "correct horse battery"}
LOGIN = {"Authorization": "Basic " + base64.b64encode(b"lead:correct horse battery").decode()}
# What an older release stored for 700 "é" of metadata: JSON cut at 4,000 characters.
BROKEN_META = json.dumps({"campaign": "winter", "note": "é" * 700})[:4000]


def put_poison_rows(database_url: str) -> None:
    """Store one row of each kind that the courier cannot process."""
    now = time.time()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(insert(events), {"kind": "open", "occurred_at": now, "meta": BROKEN_META})
        # a time no calendar holds: the daily counts cannot file it
        conn.execute(insert(opens), {"ticket_id": 42, "requester_id": 7, "comment_id": 1, "opened_at": 1e300})
        # a first note whose open is gone
        note = {"ticket_id": 42, "reply_key": 9, "kind": "first", "open_id": 999_999, "created_at": now, "due_at": now}
        conn.execute(insert(deliveries), note)
        # a receiver address that no longer parses
        call = {"event_id": "e1", "url": f"http://{'a' * 300}.com/", "payload": "{}", "created_at": now, "due_at": now}
        conn.execute(insert(webhooks), call)
    engine.dispose()


def admin_app(database_url: str):
    """An app on the same store, for its CLI and its dashboard (no courier runs)."""
    return create_app(load_settings({"DATABASE_URL": database_url, "TRACKING_KEYS": KEY, **ADMIN}))


@pytest.mark.server
def test_a_poison_row_of_every_kind_is_set_aside_and_the_rest_delivered(services, zendesk, sqlite_url):  # noqa: F811
    receiver = Receiver()
    put_poison_rows(sqlite_url)
    env = {"DATABASE_URL": sqlite_url, **zendesk.env(), **ADMIN, "TRACKING_KEYS": KEY}
    service = services({**env, "WEBHOOK_URLS": receiver.url, "WEBHOOK_SECRET": SECRET})
    assert service.load("ticket_id=42&requester_id=7&comment_id=5").status_code == 200
    app = admin_app(sqlite_url)
    link = app.test_cli_runner().invoke(args=["sign-url", "--meta", "campaign=winter"]).output.strip()
    requests.get(service.url + "/o/" + link.rsplit("/o/", 1)[1], timeout=5)
    [note] = zendesk.wait_for_notes(1, ticket_id=42, timeout=15)
    assert "reply #5" in note.body
    deadline = time.monotonic() + 15
    while len(receiver.unique()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(event["type"] for event in receiver.unique().values()) == ["open", "open"]
    listed = app.test_cli_runner().invoke(args=["dead-letters", "list"]).output
    assert [line.split("\t")[0] for line in listed.splitlines()] == ["opens", "events", "deliveries", "webhooks"]
    assert "JSONDecodeError" in listed and "OverflowError" in listed
    metrics = requests.get(service.url + "/metrics", timeout=5).text
    for table in ("opens", "events", "deliveries", "webhooks"):
        assert f'read_receipts_dead_letters{{table="{table}"}} 1.0' in metrics
    assert requests.get(service.url + "/api/events", headers=LOGIN, timeout=5).status_code == 200
    assert service.output().count("set aside") == 4, "logged once each"
    assert "delivery round failed" not in service.output()


def test_dead_letters_are_retried_and_deleted_from_the_cli(sqlite_url):
    put_poison_rows(sqlite_url)
    store = admin_app(sqlite_url).extensions["store"]
    for kind, row_id in (("events", 1), ("opens", 1), ("deliveries", 1), ("webhooks", 1)):
        assert store.dead_letters.set_aside(kind, row_id, "ValueError: broken")
    runner = admin_app(sqlite_url).test_cli_runner()
    assert runner.invoke(args=["dead-letters", "retry", "events"]).output == "1 events back in line.\n"
    assert [kind for kind, _ in store.dead_letters.listing()] == ["opens", "deliveries", "webhooks"]
    assert runner.invoke(args=["dead-letters", "delete", "webhooks", "1"]).output == "1 webhooks deleted.\n"
    assert store.dead_letters.counts() == {"opens": 1, "events": 0, "deliveries": 1, "webhooks": 0, "ticket_updates": 0}


def test_the_dashboard_lists_dead_letters_and_refuses_cross_site_posts(sqlite_url):
    put_poison_rows(sqlite_url)
    app = admin_app(sqlite_url)
    store = app.extensions["store"]
    store.dead_letters.set_aside("opens", 1, "OverflowError: timestamp out of range")
    client = app.test_client()
    page = client.get("/dashboard/dead-letters", headers=LOGIN).get_data(as_text=True)
    assert "OverflowError: timestamp out of range" in page
    action = "/dashboard/dead-letters/opens/1/delete"
    assert client.post(action, headers={**LOGIN, "Origin": "https://evil.example"}).status_code == 403
    assert client.post(action).status_code == 401
    assert store.dead_letters.counts()["opens"] == 1
    assert client.post(action, headers={**LOGIN, "Origin": "http://localhost"}).status_code == 303
    assert store.dead_letters.counts()["opens"] == 0


def test_sign_url_refuses_metadata_too_long_to_store_and_says_the_limit(sqlite_url):
    app = create_app(load_settings({"DATABASE_URL": sqlite_url, "TRACKING_KEYS": KEY}))
    refused = app.test_cli_runner().invoke(
        args=["sign-url", "--meta", "campaign=winter", "--meta", "note=" + "é" * 700]
    )
    assert refused.exit_code == 2 and "the limit is 4000" in refused.output
    tracker = app.extensions["tracker"]
    fits = tracker.open_url({"note": "é" * 600})
    client = app.test_client()
    client.get(fits.removeprefix(app.extensions["settings"].public_url))
    drain(app.extensions["courier"])  # from the spool into the store
    [event] = app.extensions["store"].events.all()
    assert json.loads(event.meta) == {"note": "é" * 600}, "stored whole"


def test_a_job_that_fails_is_logged_once_and_the_notes_go_on(make_app, zendesk, caplog):
    app = make_app(VERIFY_REQUESTER="false")
    courier = app.extensions["courier"]

    def broken(now: float) -> bool:
        raise ValueError("a bug in one job")

    courier.dispatch_events = broken
    app.test_client().get("/pixel.gif?ticket_id=42&comment_id=1")
    for _ in range(5):
        courier.run_once()
    assert len(zendesk.notes_on(42)) == 1
    assert caplog.text.count("dispatching events failed; the other work goes on") == 1
