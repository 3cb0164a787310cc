"""The courier's own process under the Procfile's gunicorn: it delivers, gunicorn restarts it, the pixel never waits on it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from read_receipts.intake import pixel
from tests.test_server import services  # noqa: F401 (the fixture)

pytestmark = pytest.mark.server


def children(parent: int) -> list[int]:
    """The live pids whose parent is `parent`, from /proc (a killed one not yet reaped is not live)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            if int(ppid) == parent and state != "Z":
                found.append(int(entry.name))
    return found


def courier_pid(service, timeout: float = 20.0, other_than: int = 0) -> int:
    """The courier process: the only grandchild of the master (its supervisor is gunicorn's dirty arbiter)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        grandchildren = [pid for child in children(service.process.pid) for pid in children(child)]
        if len(grandchildren) == 1 and grandchildren[0] != other_than:
            return grandchildren[0]
        time.sleep(0.1)
    raise AssertionError(f"no courier process:\n{service.output()}")


def niceness(pid: int) -> int:
    """A process's niceness, from /proc."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_the_courier_runs_apart_below_the_request_workers(services, zendesk, sqlite_url):  # noqa: F811
    zendesk.add_ticket(4100, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env()})
    courier = courier_pid(service)
    deadline = time.monotonic() + 20  # the service answers once one worker has booted; wait for both
    while len(workers := [pid for pid in children(service.process.pid) if not children(pid)]) < 2:
        assert time.monotonic() < deadline, service.output()
        time.sleep(0.1)
    assert len(workers) == 2 and courier not in workers
    assert niceness(courier) > max(niceness(pid) for pid in workers)
    assert service.load("ticket_id=4100&requester_id=7&comment_id=1").content == pixel.GIF
    assert zendesk.wait_for_notes(1, timeout=20)[0].ticket_id == 4100


def test_a_killed_courier_is_restarted_and_delivers_what_came_meanwhile(services, zendesk, sqlite_url):  # noqa: F811
    for ticket in range(4200, 4210):
        zendesk.add_ticket(ticket, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env()})
    first = courier_pid(service)
    os.kill(first, signal.SIGKILL)
    for ticket in range(4200, 4210):  # while gunicorn brings up another courier
        response = service.load(f"ticket_id={ticket}&requester_id=7&comment_id=1")
        assert response.status_code == 200 and response.content == pixel.GIF
    courier_pid(service, other_than=first)  # gunicorn started another
    zendesk.wait_for_notes(10, timeout=60)
    time.sleep(1)  # let any duplicate arrive
    assert sorted(note.ticket_id for note in zendesk.comments) == list(range(4200, 4210))
