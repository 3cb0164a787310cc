"""/metrics: Prometheus text, from the store, protected by a token when one is set."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from read_receipts.store import Stores
from read_receipts.store.deliveries import queue_notes
from read_receipts.store.replies import NoteDue, NoteKind
from read_receipts.store.schema import deliveries, opens
from tests.conftest import drain, unspool
from tests.test_server import THUNDERBIRD, Service

CURL = {"User-Agent": "curl/8.5.0"}
APPLE = {"User-Agent": "Mozilla/5.0"}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Parse an exposition into {(sample name, labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_opens_notes_answers_and_queues(make_app, zendesk):
    app = make_app()
    client = app.test_client()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1", headers=THUNDERBIRD)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=2", headers=CURL)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers=THUNDERBIRD)
    before = samples(client.get("/metrics").get_data(as_text=True))
    assert before[("read_receipts_spool_bytes", ())] > 0  # spooled, not yet stored
    assert before[("read_receipts_spool_oldest_seconds", ())] >= 0
    unspool(app)
    stored = samples(client.get("/metrics").get_data(as_text=True))
    assert stored[("read_receipts_queue_depth", (("queue", "opens"),))] == 3
    assert stored[("read_receipts_spool_bytes", ())] == 0
    drain(app.extensions["courier"])
    after = samples(client.get("/metrics").get_data(as_text=True))
    assert after[("read_receipts_opens_total", (("kind", "person"),))] == 2
    assert after[("read_receipts_opens_total", (("kind", "bot"),))] == 1
    assert after[("read_receipts_notes_total", (("outcome", "done"),))] == 2
    assert (
        after[("read_receipts_zendesk_answers_total", (("status", "200"),))] == 4
    )  # one check, one read of comments, two notes
    assert after[("read_receipts_queue_depth", (("queue", "opens"),))] == 0


def test_metrics_token_is_required_when_set(make_app):
    client = make_app(METRICS_TOKEN="t0ken-for-prometheus-" + "x" * 20).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer t0ken-for-prometheus-" + "x" * 20})
    assert response.status_code == 200 and "read_receipts_queue_depth" in response.get_data(as_text=True)


@pytest.mark.server
def test_metrics_from_a_multi_worker_gunicorn_agree_with_the_store(zendesk, sqlite_url, tmp_path):
    for ticket in range(500, 520):
        zendesk.add_ticket(ticket, requester_id=7)
    env = {"DATABASE_URL": sqlite_url, **zendesk.env(), "WEB_CONCURRENCY": "3", "ZENDESK_REQUESTS_PER_MINUTE": "2500"}
    service = Service(tmp_path, env).start()
    try:
        for ticket in range(500, 520):
            for headers in (THUNDERBIRD, CURL, APPLE):
                requests.get(f"{service.url}/pixel.gif?ticket_id={ticket}&requester_id=7", headers=headers, timeout=5)
        zendesk.wait_for_notes(20, timeout=20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            scrapes = [samples(requests.get(f"{service.url}/metrics", timeout=5).text) for _ in range(6)]
            idle = [("read_receipts_queue_depth", (("queue", queue),)) for queue in ("opens", "notes")]
            if all(scrape.get(key) == 0 for key in idle for scrape in scrapes):
                break
            time.sleep(0.2)
    finally:
        service.kill()
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(opens.c.kind, func.count()).group_by(opens.c.kind)).all())
        done = conn.execute(select(func.count()).where(deliveries.c.state == "done")).scalar_one()
    engine.dispose()
    assert kinds == {"person": 20, "bot": 20, "apple_preload": 20}
    for scrape in scrapes:  # whichever worker answered
        for kind, count in kinds.items():
            assert scrape[("read_receipts_opens_total", (("kind", kind),))] == count
        assert scrape[("read_receipts_notes_total", (("outcome", "done"),))] == done


def test_oldest_pending_is_how_late_the_most_overdue_item_is(database_url):
    store = Stores(database_url)
    now = time.time()
    late, scheduled = now - 100, now + 3600
    with store.engine.begin() as conn:
        queue_notes(conn, [NoteDue(1, 1, NoteKind.FIRST, late), NoteDue(2, 1, NoteKind.SUMMARY, scheduled)], now - 500)
    depth, overdue, oldest = store.tallies.figures(now)["queues"]["notes"]
    store.close()
    assert (depth, overdue) == (2, 1)
    assert oldest == pytest.approx(100, abs=1)  # late from its due time, not from when it was queued
