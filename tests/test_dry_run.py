"""A dry run's loads stay a dry run's: logged, counted apart, never posted to Zendesk later."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import create_engine, update

from read_receipts.store.schema import deliveries, replies
from tests.test_server import ROOT, Service

pytestmark = pytest.mark.server

NO_CREDENTIALS = {name: "" for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_URL")}
REPLY = 28401030


def wait_for(predicate, timeout: float = 15.0) -> bool:
    """Wait until `predicate()` holds; return whether it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def make_everything_due(database_url: str) -> None:
    """Let an hour pass for the store: every summary and queued note is due now."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(replies).values(next_note_at=0))
        conn.execute(update(deliveries).values(due_at=0))
    engine.dispose()


def explain(database_url: str, ticket_id: int) -> str:
    """What `flask --app app explain` says of a ticket."""
    env = {**os.environ, **NO_CREDENTIALS, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    flask = [sys.executable, "-m", "flask", "--app", "app", "explain", str(ticket_id)]
    return subprocess.run(flask, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True).stdout


def metric(url: str, name: str) -> dict[str, float]:
    """One counter of /metrics, by its label's value."""
    found = {}
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{"):
            found[line.split('="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return found


def test_dry_run_loads_never_reach_zendesk_after_it_is_connected(tmp_path, zendesk, database_url):
    zendesk.add_ticket(1030, requester_id=530, replies=[REPLY])
    env = {"DATABASE_URL": database_url, "SPOOL_DIR": str(tmp_path / "spool")}
    dry = Service(tmp_path, {**env, **NO_CREDENTIALS}).start()
    try:
        for _ in range(3):  # requester 7 is not the ticket's: nothing checks it in a dry run
            assert dry.load(f"ticket_id=1030&requester_id=7&comment_id={REPLY}").status_code == 200
        assert wait_for(lambda: "ticket 1030" in dry.output()), dry.output()
        assert wait_for(lambda: metric(dry.url, "read_receipts_opens_total").get("dry_run") == 3)
    finally:
        dry.kill()
    lines = [line for line in dry.output().splitlines() if "ticket 1030" in line]
    said = "dry run: no note posted to ticket 1030 (no Zendesk credentials); it would say: Read receipt: the requester"
    assert 1 <= len(lines) <= 3 and all(said in line for line in lines), "each a line that says what happened"
    assert "note added" not in dry.output()
    fates = explain(database_url, 1030)
    assert fates.count("no note: a dry run's load (no Zendesk credentials then): logged, never posted") == 3

    make_everything_due(database_url)  # the hour after which a summary of the three would be due
    connected = Service(tmp_path, {**env, **zendesk.env()}).start()
    try:
        assert connected.load(f"ticket_id=1030&requester_id=530&comment_id={REPLY}").status_code == 200
        [note] = zendesk.wait_for_notes(1, ticket_id=1030)
        time.sleep(2)  # a summary of the dry run's loads would follow the real open's counting at once
        assert [n.body for n in zendesk.notes_on(1030)] == [note.body]
        assert (
            note.body.startswith("Read receipt: the requester opened your reply of ")
            and ", by Ann in Thunderbird on " in note.body
        )
        assert zendesk.count_calls("GET", "/api/v2/tickets/1030") >= 1, "the real load was checked"
        opens_total = metric(connected.url, "read_receipts_opens_total")
        assert opens_total == {"dry_run": 3.0, "person": 1.0}
    finally:
        connected.kill()
