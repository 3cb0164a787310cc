"""One spool, one store, one drainer at a time, through the real gunicorn: two instances, a USR2 upgrade, two stores."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import requests

from read_receipts.intake.spool import Spool
from tests.conftest import fresh_database
from tests.test_courier_process import children
from tests.test_server import THUNDERBIRD, Service, services  # noqa: F401 (the fixture)
from tests.test_spool_server import FAST, TICKETS, expected, load_marked, marks, wait_until

pytestmark = pytest.mark.server
SEGMENTS = 1200  # sealed segments left by dead workers: enough to keep two couriers draining side by side
PER_SEGMENT = 4
LEFT = SEGMENTS * PER_SEGMENT


def leave_sealed_segments(spool_dir) -> None:
    """Fill a spool with segments whose writers are gone, as killed workers leave them (marks m0 .. m{LEFT-1})."""
    for segment in range(SEGMENTS):
        writer = Spool(spool_dir)
        for n in range(segment * PER_SEGMENT, (segment + 1) * PER_SEGMENT):
            ticket = TICKETS[n % len(TICKETS)]
            writer.append(
                "o",
                {"ticket_id": ticket, "requester_id": 7, "comment_id": 1, "sent": f"m{n}", "opened_at": time.time()}
                | {"ip": "127.0.0.1", "user_agent": THUNDERBIRD["User-Agent"]},
            )
        writer.close()


def tickets_env(zendesk, database_url: str, spool_dir) -> dict[str, str]:
    """A service on the given store and spool, with budgets that do not slow the test."""
    for ticket in TICKETS:
        zendesk.add_ticket(ticket, requester_id=7)
    return {"DATABASE_URL": database_url, "SPOOL_DIR": str(spool_dir), **zendesk.env(), **FAST}


def assert_each_open_stored_once_and_each_ticket_noted_once(store_url: str, zendesk, count: int) -> None:
    """Every mark stored exactly once, one note per ticket."""
    from read_receipts.store import Stores

    store = Stores(store_url)
    try:
        assert wait_until(lambda: len(marks(store)) >= count, timeout=120), f"{len(marks(store))} of {count} stored"
        time.sleep(2)  # let a second courier store anything twice
        stored = marks(store)
        assert len(stored) == count, f"{len(stored) - len(set(stored))} opens stored twice"
        assert stored == expected(count)
    finally:
        store.close()
    zendesk.wait_for_notes(len(TICKETS), timeout=60)
    time.sleep(1.5)  # let any duplicate note arrive
    assert sorted(note.ticket_id for note in zendesk.comments) == list(TICKETS)


def test_two_instances_on_one_store_and_one_spool_store_and_note_every_open_once(zendesk, tmp_path):
    database_url = fresh_database("postgresql", tmp_path)
    spool_dir = tmp_path / "shared-spool"
    leave_sealed_segments(spool_dir)
    env = tickets_env(zendesk, database_url, spool_dir)
    started = [Service(tmp_path, env).start(wait=False) for _ in range(2)]  # both drain the left segments at once
    try:
        for service in started:
            service.wait_healthy(60)
        threads = [
            threading.Thread(target=load_marked, args=(service, range(LEFT + n, LEFT + 400, 2)))
            for n, service in enumerate(started)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert_each_open_stored_once_and_each_ticket_noted_once(database_url, zendesk, LEFT + 400)
    finally:
        for service in started:
            service.kill()


def test_a_usr2_upgrade_stores_and_notes_every_open_once(services, zendesk, tmp_path):  # noqa: F811

    database_url = fresh_database("sqlite", tmp_path)
    spool_dir = tmp_path / "spool"
    leave_sealed_segments(spool_dir)
    service = services(tickets_env(zendesk, database_url, spool_dir))
    old_master = service.process.pid
    workers = set(children(old_master))
    os.kill(old_master, signal.SIGUSR2)  # gunicorn starts a new master (and its courier) on the same spool
    assert wait_until(lambda: new_gunicorns(old_master, workers), 30)
    [new_master] = new_gunicorns(old_master, workers)
    try:
        load_marked(service, range(LEFT, LEFT + 200))
        time.sleep(3)  # both masters serve and drain
        os.kill(old_master, signal.SIGTERM)  # the old one goes; the new one goes on
        service.process.wait(30)
        load_marked(service, range(LEFT + 200, LEFT + 400))
        assert_each_open_stored_once_and_each_ticket_noted_once(database_url, zendesk, LEFT + 400)
    finally:  # the new master outlives the old one, whose process the fixture stops: stop it here
        stop_master(new_master)


def new_gunicorns(master: int, before: set[int]) -> list[int]:
    """The gunicorn processes a master started since `before` (its children then)."""
    return [pid for pid in children(master) if pid not in before and "gunicorn" in _cmdline(pid)]


def stop_master(pid: int) -> None:
    """Stop a gunicorn master that is no child of this process, and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_until(lambda: not _cmdline(pid), 30):
        os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    """A process's command line ('' once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_spool_of_another_store_is_refused_at_start_up_with_a_fix(services, zendesk, tmp_path):  # noqa: F811
    spool_dir = tmp_path / "shared-spool"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first_store, second_store = fresh_database("sqlite", tmp_path / "one"), fresh_database("sqlite", tmp_path / "two")
    first = services(tickets_env(zendesk, first_store, spool_dir))
    second = Service(tmp_path, tickets_env(zendesk, second_store, spool_dir))
    second.port = 0  # never listens
    second.start(wait=False)
    assert second.process.wait(30) != 0, "a second store on the same spool would store its opens too"
    output = second.output()
    assert "belongs to another store" in output and str(spool_dir) in output and "SPOOL_DIR" in output
    assert "Traceback" not in output
    assert first.load(f"ticket_id={TICKETS[0]}&requester_id=7&comment_id=1").status_code == 200
    zendesk.wait_for_notes(1, ticket_id=TICKETS[0])
    time.sleep(1.5)
    assert len(zendesk.comments) == 1
    assert requests.get(first.url + "/healthz", timeout=5).json()["status"] == "ok"
