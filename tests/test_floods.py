"""Floods through the real gunicorn: forged ticket ids, made-up reply ids and one busy ticket starve no one.

Real time, real numbers: 10,000 forged loads, a Zendesk stand-in that allows
100 requests a minute, and the service's default budgets.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from tests.test_server import THUNDERBIRD, services  # noqa: F401 (the fixture)

pytestmark = pytest.mark.server
FORGED = 10_000
SPAM = 2_000


def loader(service, address: str):
    """Return a function that loads the pixel as a mail client at `address` (behind one proxy)."""
    local = threading.local()

    def load(query: str) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        headers = {**THUNDERBIRD, "X-Forwarded-For": address}
        session.get(f"{service.url}/pixel.gif?{query}", headers=headers, timeout=30)
        return time.time()

    return load


def flood(load, queries, threads: int = 12) -> None:
    """Send every query, several at a time."""
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(load, queries))


def named(zendesk, reply: int) -> str:
    """How an English note names one of the stand-in's replies (by Ann, at the time the stand-in wrote it)."""
    moment = datetime.fromtimestamp(zendesk.written_at(reply), UTC)
    return f"your reply of {moment:%a, %b} {moment.day}, {moment:%-I:%M %p}, by Ann "


def note_time(zendesk, ticket_id: int, reply: int, timeout: float) -> float | None:
    """When the note naming a reply arrived on a ticket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for note in zendesk.notes_on(ticket_id):
            if named(zendesk, reply) in note.body:
                return note.at
        time.sleep(0.05)
    return None


def test_forged_ids_starve_neither_first_opens_nor_the_notes_of_known_tickets(services, zendesk, sqlite_url):  # noqa: F811
    zendesk.requests_per_minute = 100
    known = range(600, 604)
    for ticket in known:
        zendesk.add_ticket(ticket, requester_id=ticket + 1)
    zendesk.add_ticket(500, requester_id=50)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), "PROXY_HOPS": "1"})
    reader, attacker, newcomer = (loader(service, ip) for ip in ("198.51.100.20", "203.0.113.9", "192.0.2.44"))
    for ticket in known:  # checked, and their replies read, before the flood
        reader(f"ticket_id={ticket}&requester_id={ticket + 1}&comment_id=1")
    assert len(zendesk.wait_for_notes(len(known), timeout=20)) == len(known)
    lags: list[float] = []
    first_open: dict[str, float] = {}
    sent = threading.Event()

    def forged(i: int) -> float:
        if i == 9_598:  # where a real first open once sat in line: behind 9,597 forged ones
            first_open["at"] = newcomer("ticket_id=500&requester_id=50&comment_id=3")
        return attacker(f"ticket_id={i}0000777&requester_id=1&comment_id=1")

    def known_replies() -> None:
        for n, (reply, ticket) in enumerate((r, t) for r in range(2, 8) for t in known):
            if sent.is_set() and n > 12:
                return
            at = reader(f"ticket_id={ticket}&requester_id={ticket + 1}&comment_id={reply}")
            noted = note_time(zendesk, ticket, reply, timeout=20)
            lags.append(noted - at if noted else 99.0)

    started = time.monotonic()
    watcher = threading.Thread(target=known_replies)
    watcher.start()
    flood(forged, range(FORGED))
    sent.set()
    flood_seconds = time.monotonic() - started
    noted = note_time(zendesk, 500, 3, timeout=60)
    watcher.join(60)
    assert noted is not None and noted - first_open["at"] < 60, "the real first open is checked within 60 s"
    assert len(lags) >= 12 and statistics.quantiles(lags, n=20)[-1] < 2.0, f"known tickets' p95 lag: {lags}"
    forged_checks = sum(1 for method, path, _ in zendesk.calls if path.endswith("0000777.json"))
    minutes = math.ceil((time.monotonic() - started) / 60)
    assert 0 < forged_checks <= 25 * minutes, "one network: half of the checks' share (50 of 100 calls a minute)"
    assert zendesk.violations == [], "never over Zendesk's limits"
    assert flood_seconds < 60


def test_made_up_reply_ids_and_a_busy_ticket_hold_up_no_one(services, zendesk, sqlite_url):  # noqa: F811
    zendesk.add_ticket(101, requester_id=55, replies=[7001])
    zendesk.add_ticket(102, requester_id=56, replies=[8001])
    zendesk.add_ticket(103, requester_id=57, replies=range(1, 41))
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env()})
    load = loader(service, "198.51.100.30")
    load("ticket_id=101&requester_id=55&comment_id=7001")
    flood(load, [f"ticket_id=101&requester_id=55&comment_id={i}123" for i in range(SPAM)])
    flood(load, [f"ticket_id=103&requester_id=57&comment_id={reply}" for reply in range(1, 41)])
    assert len(zendesk.wait_for_notes(10, ticket_id=103, timeout=30)) == 10, "the busy ticket's limit is full"
    at = load("ticket_id=102&requester_id=56&comment_id=8001")
    noted = note_time(zendesk, 102, 8001, timeout=30)
    assert noted is not None and noted - at < 2.0, "an honest note is not held behind the busy ticket"
    time.sleep(2)
    bodies = [note.body for note in zendesk.notes_on(101)]
    assert len(bodies) <= 2 and all(
        named(zendesk, 7001) in body or "a reply on this ticket " in body for body in bodies
    ), bodies
    reads = sum(1 for _, path, _ in zendesk.calls if path.startswith("/api/v2/tickets/101/comments"))
    assert reads <= 3, "made-up ids cost one read of the comments per minute, not one each"
    assert zendesk.violations == []
