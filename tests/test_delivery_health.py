"""/healthz and /metrics say when delivery stalls or fails, through the Procfile's gunicorn."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import requests

from read_receipts.delivery.heartbeat import Beat, DeliveryHealth, delivery_health
from tests.test_courier_process import courier_pid
from tests.test_metrics import samples
from tests.test_server import Service, services  # noqa: F401 (the fixture)

pytestmark = pytest.mark.server

STALL = 5  # COURIER_STALL_SECONDS in these tests
BOUND = STALL + 10  # the heartbeat file is written every second; a failed round waits up to 5 s


def health(service: Service) -> tuple[int, dict]:
    """The status code and JSON of /healthz."""
    response = requests.get(service.url + "/healthz", timeout=5)
    return response.status_code, response.json()


def wait_for_delivery(service: Service, state: str, timeout: float = BOUND) -> dict:
    """Poll /healthz until it says `state` of delivery; return its JSON."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = health(service)
        assert code == 200, body  # delivery never takes the pixel out of a load balancer
        if body["delivery"] == state:
            return body
        time.sleep(0.2)
    raise AssertionError(f"/healthz never said delivery is {state}: {body}\n{service.output()[-3000:]}")


def metric(service: Service, name: str) -> float:
    """One unlabelled sample of /metrics."""
    return samples(requests.get(service.url + "/metrics", timeout=5).text)[(name, ())]


def test_a_stopped_courier_is_reported_stalled_and_recovers(services, zendesk, sqlite_url):  # noqa: F811
    for ticket in (4300, 4301):
        zendesk.add_ticket(ticket, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), "COURIER_STALL_SECONDS": str(STALL)})
    service.load("ticket_id=4300&requester_id=7&comment_id=1")
    zendesk.wait_for_notes(1, ticket_id=4300, timeout=20)
    assert wait_for_delivery(service, "ok")["status"] == "ok"
    courier = courier_pid(service)
    os.kill(courier, signal.SIGSTOP)
    try:
        stopped_at = time.time()
        service.load("ticket_id=4301&requester_id=7&comment_id=1")  # work waits in the spool
        stalled = wait_for_delivery(service, "stalled")
        assert stalled["status"] == "degraded" and stalled["last_round_seconds_ago"] >= STALL
        assert stalled["spool"]["bytes"] > 0
        assert metric(service, "read_receipts_courier_last_round_timestamp_seconds") <= stopped_at
        assert metric(service, "read_receipts_spool_bytes") > 0
        assert zendesk.notes_on(4301) == []
    finally:
        os.kill(courier, signal.SIGCONT)
    recovered = wait_for_delivery(service, "ok")
    assert recovered["status"] == "ok"
    assert metric(service, "read_receipts_courier_last_round_timestamp_seconds") > stopped_at
    assert len(zendesk.wait_for_notes(1, ticket_id=4301, timeout=20)) == 1


@pytest.fixture
def read_only_switch(tmp_path):
    """A store directory reached through a link that `switch(read_only)` points at it or at a read-only bind mount of it."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a read-only bind mount needs root and mount(8)")
    writable, view, link = tmp_path / "store", tmp_path / "view", tmp_path / "current"
    writable.mkdir()
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(writable), str(view)], capture_output=True).returncode:
        pytest.skip("bind mounts are not allowed here")
    # Read-only before anything opens a file in it (a remount is refused while files are open for writing).
    subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)

    def switch(read_only: bool) -> None:
        fresh = tmp_path / "current.new"
        fresh.symlink_to(view if read_only else writable)
        os.replace(fresh, link)

    switch(read_only=False)
    yield link, switch
    subprocess.run(["umount", "-l", str(view)], check=False)


def test_a_store_on_a_read_only_mount_is_reported_and_refused_at_first_start(
    services,  # noqa: F811
    zendesk,
    tmp_path,
    read_only_switch,
):
    link, switch = read_only_switch
    zendesk.add_ticket(4400, requester_id=7)
    env = {"DATABASE_URL": f"sqlite:///{link}/receipts.db", **zendesk.env(), "COURIER_STALL_SECONDS": str(STALL)}
    service = services(env)
    service.load("ticket_id=4400&requester_id=7&comment_id=1")
    zendesk.wait_for_notes(1, ticket_id=4400, timeout=20)
    service.kill()  # kill -9: SQLite's -wal and -shm stay, so the file can still be read once the mount is read-only
    switch(read_only=True)  # the same files, on a read-only mount

    # A restart on the store this instance used: the pixel answers, /healthz says delivery fails.
    service.start()
    assert "the store takes no writes (attempt to write a readonly database)" in service.output()
    assert service.load("ticket_id=4400&requester_id=7&comment_id=2").status_code == 200
    failing = wait_for_delivery(service, "failing")
    assert failing["status"] == "degraded" and failing["store"] == "ok"
    assert metric(service, "read_receipts_courier_failing_since_timestamp_seconds") > 0
    assert "attempt to write a readonly database" in service.output()

    # A new instance on that store stops at start-up, saying why.
    fresh = Service(tmp_path, env)
    fresh.port = 0  # never listens
    fresh.start(wait=False)
    assert fresh.process.wait(30) != 0
    assert "The store named by DATABASE_URL takes no writes (attempt to write a readonly database)" in fresh.output()

    switch(read_only=False)  # writable again: delivery goes on by itself
    assert wait_for_delivery(service, "ok", timeout=BOUND + 10)["status"] == "ok"
    assert len(zendesk.wait_for_notes(2, ticket_id=4400, timeout=20)) == 2


def test_a_summary_waiting_for_its_interval_is_scheduled_not_overdue(services, zendesk, sqlite_url):  # noqa: F811
    zendesk.add_ticket(4500, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env()})
    service.load("ticket_id=4500&requester_id=7&comment_id=1")
    zendesk.wait_for_notes(1, ticket_id=4500, timeout=20)
    service.load("ticket_id=4500&requester_id=7&comment_id=1")  # a second open: its summary waits NOTE_INTERVAL
    notes = (("queue", "notes"),)
    deadline = time.monotonic() + 20
    while (scrape := samples(requests.get(service.url + "/metrics", timeout=5).text)).get(
        ("read_receipts_queue_depth", notes)
    ) != 1:
        assert time.monotonic() < deadline, scrape
        time.sleep(0.2)
    time.sleep(2)  # the summary has waited a while, by design
    scrape = samples(requests.get(service.url + "/metrics", timeout=5).text)
    assert scrape[("read_receipts_queue_depth", notes)] == 1
    assert scrape[("read_receipts_queue_overdue", notes)] == 0
    assert scrape[("read_receipts_oldest_pending_seconds", notes)] == 0
    assert len(zendesk.notes_on(4500)) == 1


@pytest.mark.parametrize(
    ("beat", "state"),
    [
        (Beat(1, finished_at=990), DeliveryHealth.OK),
        (Beat(1, finished_at=900), DeliveryHealth.STALLED),  # stopped: not a word for 100 s
        (Beat(1, finished_at=900, failing_since=905, failed_at=998), DeliveryHealth.FAILING),  # failing for long
        (Beat(1, finished_at=0, failing_since=500, failed_at=998), DeliveryHealth.FAILING),
        (Beat(1, finished_at=997, failing_since=998, failed_at=998), DeliveryHealth.OK),  # one hiccup
        (Beat(1, finished_at=900, failing_since=905, failed_at=910), DeliveryHealth.STALLED),  # hung while failing
    ],
)
def test_delivery_health_from_the_last_beat(beat, state):
    assert beat.health(1000, STALL * 6) == state


def test_no_beat_is_a_start_up_for_a_while_then_a_stall():
    assert delivery_health(None, 1000, 990, 30) == DeliveryHealth.STARTING
    assert delivery_health(None, 1000, 900, 30) == DeliveryHealth.STALLED
