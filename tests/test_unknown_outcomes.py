"""A note whose outcome is unknown (its courier was killed while Zendesk took it) is looked for before it is posted again."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from read_receipts.store.deliveries import DeliveryState
from read_receipts.store.schema import deliveries
from tests.test_courier_process import courier_pid
from tests.test_server import services  # noqa: F401 (the fixture)

pytestmark = pytest.mark.server

KILLS = 10
TICKETS = range(4600, 4640)


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def gone(pid: int) -> bool:
    """Whether a process has died (a zombie counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def pending(url: str) -> int:
    """How many notes wait to be posted (or looked for), read from the service's store."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).where(deliveries.c.state == DeliveryState.PENDING)).scalar_one()
    finally:
        engine.dispose()


def test_kill_9_of_the_courier_with_notes_in_flight_leaves_every_note_once(services, zendesk, sqlite_url):  # noqa: F811
    for ticket in TICKETS:
        zendesk.add_ticket(ticket, requester_id=7)
    env = {
        "DATABASE_URL": sqlite_url,
        **zendesk.env(),
        "ZENDESK_UPDATES_PER_MINUTE": "300",
        "ZENDESK_REQUESTS_PER_MINUTE": "2500",
    }
    service = services(env)
    courier, in_flight = courier_pid(service, timeout=60), 0
    per_kill = len(TICKETS) // KILLS
    for kill in range(KILLS):
        zendesk.updates_gate.clear()  # Zendesk holds the notes it is sent ...
        for ticket in TICKETS[kill * per_kill : (kill + 1) * per_kill]:
            assert service.load(f"ticket_id={ticket}&requester_id=7&comment_id=1").status_code == 200
        wait_until(lambda: zendesk.updates_waiting >= 1, 60, f"no note in flight:\n{service.output()[-3000:]}")
        time.sleep(0.3)  # the other lane may send one too
        in_flight += zendesk.updates_waiting
        os.kill(courier, signal.SIGKILL)
        wait_until(lambda killed=courier: gone(killed), 10, "the courier outlived kill -9")
        zendesk.updates_gate.set()  # ... and takes them once their courier is dead: it never hears they were posted
        courier = courier_pid(service, timeout=60, other_than=courier)
    assert in_flight >= KILLS  # every kill left at least one note whose outcome its courier never learned
    # Every ticket has its note once Zendesk took the held ones; the deliveries whose courier was killed are
    # settled only after their lease (23 s) ran out and the ticket's comments were read.
    wait_until(lambda: pending(sqlite_url) == 0, 120, f"notes still pending:\n{service.output()[-3000:]}")
    assert Counter(note.ticket_id for note in zendesk.comments) == dict.fromkeys(TICKETS, 1)
    assert "was on the ticket already: not posted again" in service.output()
