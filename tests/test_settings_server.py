"""Settings under the Procfile's gunicorn: the master checks them once, its processes run with what it checked."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from read_receipts.store.schema import opens
from tests.test_courier_process import children, courier_pid
from tests.test_server import ROOT, services  # noqa: F401 (a fixture)

pytestmark = pytest.mark.server


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the service's files, whose `.env` a test may write (the real checkout's stays alone)."""
    where = tmp_path / "checkout"
    where.mkdir()
    for path in [*ROOT.glob("*.py"), ROOT / "Procfile"]:
        shutil.copy(path, where)
    shutil.copytree(ROOT / "read_receipts", where / "read_receipts", ignore=shutil.ignore_patterns("__pycache__"))
    return where


def request_workers(service, count: int = 2, timeout: float = 20.0) -> list[int]:
    """The request workers (the master's children that have no children), once `count` of them run."""
    deadline = time.monotonic() + timeout
    while len(workers := [pid for pid in children(service.process.pid) if not children(pid)]) != count:
        assert time.monotonic() < deadline and service.process.poll() is None, service.output()
        time.sleep(0.1)
    return workers


def wait_until(condition, timeout: float = 20.0) -> bool:
    """Poll a condition until it holds or the time is up."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def kind_of_open(database_url: str, ticket_id: int) -> str | None:
    """The label triage gave the open of a ticket (None until it is labelled)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        kind = conn.execute(select(opens.c.kind).where(opens.c.ticket_id == ticket_id)).scalar()
    engine.dispose()
    return kind


def test_a_bad_env_written_while_running_never_stops_the_pixel_nor_loops_the_courier(
    services,  # noqa: F811
    zendesk,
    sqlite_url,
    checkout,
):
    zendesk.add_ticket(4300, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), "PYTHONPATH": ""}, cwd=checkout)
    courier = courier_pid(service)
    worker = request_workers(service)[0]
    (checkout / ".env").write_text("ZENDESK_TIMEOUT=ten\n")
    os.kill(courier, signal.SIGKILL)
    os.kill(worker, signal.SIGKILL)
    courier_pid(service, other_than=courier)  # gunicorn started another courier...
    assert worker not in request_workers(service)  # ...and another request worker
    assert service.load("ticket_id=4300&requester_id=7&comment_id=1").status_code == 200
    assert zendesk.wait_for_notes(1, ticket_id=4300, timeout=20)
    time.sleep(1)  # a crash loop would show by now
    assert service.process.poll() is None, service.output()
    assert "ZENDESK_TIMEOUT" not in service.output()
    assert service.output().count("Spawned dirty worker") == 2
    # The courier says at each start where notes go and which parts are on, with the settings the master checked.
    assert service.output().count(f"on: the pixel at http://localhost:{service.port}/pixel.gif; metrics at ") == 2
    assert "off: the dashboard and the API (set ADMIN_USER and ADMIN_PASSWORD); tracking links" in service.output()


def test_a_reload_with_a_bad_env_keeps_the_running_settings_and_says_what_to_fix(
    services,  # noqa: F811
    zendesk,
    sqlite_url,
    checkout,
):
    zendesk.add_ticket(4310, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), "PYTHONPATH": ""}, cwd=checkout)
    courier = courier_pid(service)
    workers = request_workers(service)
    (checkout / ".env").write_text("ZENDESK_TIMEOUT=ten\n")
    os.kill(service.process.pid, signal.SIGHUP)
    assert wait_until(lambda: "ZENDESK_TIMEOUT must be a number from 1 to 60 (got 'ten')" in service.output())
    assert wait_until(lambda: not set(workers) & set(request_workers(service)))  # gunicorn still replaced them
    assert "The service runs on with the settings it had: fix .env, then reload again." in service.output()
    assert service.load("ticket_id=4310&requester_id=7&comment_id=1").status_code == 200
    assert zendesk.wait_for_notes(1, ticket_id=4310, timeout=20)
    assert courier_pid(service) == courier  # the courier was left running as it was
    assert service.process.poll() is None, service.output()


def test_a_reload_restarts_the_courier_with_the_new_settings(services, zendesk, sqlite_url, checkout):  # noqa: F811
    for ticket in (4320, 4321):
        zendesk.add_ticket(ticket, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), "PYTHONPATH": ""}, cwd=checkout)
    assert service.load("ticket_id=4320&requester_id=7&comment_id=1").status_code == 200
    assert zendesk.wait_for_notes(1, ticket_id=4320, timeout=20)
    courier = courier_pid(service)
    (checkout / ".env").write_text("IGNORE_IPS=127.0.0.0/8\n")  # the tests' loads come from 127.0.0.1
    os.kill(service.process.pid, signal.SIGHUP)
    courier_pid(service, other_than=courier)
    assert "reload: .env checked; the new request workers and a new courier run with it" in service.output()
    assert service.load("ticket_id=4321&requester_id=7&comment_id=1").status_code == 200
    assert wait_until(lambda: kind_of_open(sqlite_url, 4321) is not None), service.output()
    assert kind_of_open(sqlite_url, 4321) == "agent"
    time.sleep(1)  # a note would be posted by now
    assert [note.ticket_id for note in zendesk.comments] == [4320]
    assert service.process.poll() is None, service.output()
