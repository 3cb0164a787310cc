"""The spool through the real gunicorn: a PostgreSQL outage, kill -9, an unwritable spool, tracking links."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from read_receipts.intake import pixel
from read_receipts.store import Stores
from read_receipts.store.schema import events, opens
from read_receipts.store.upgrade import upgrade
from tests.conftest import postgres_url
from tests.tcp_proxy import TcpProxy
from tests.test_server import THUNDERBIRD, services  # noqa: F401 (the fixture)

pytestmark = pytest.mark.server
OUTAGE_SECONDS = 60  # a managed database's failover takes 30 to 120 s
TICKETS = range(5000, 5010)
FAST = {"ZENDESK_UPDATES_PER_MINUTE": "300", "ZENDESK_REQUESTS_PER_MINUTE": "2500"}


@pytest.fixture
def postgresql_behind_proxy():
    """A dedicated PostgreSQL database at this release's schema, reached through a proxy the test can cut."""
    server = make_url(postgres_url()).set(drivername="postgresql+psycopg")
    name = f"spool_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    direct = server.set(database=name).render_as_string(hide_password=False)
    store = Stores(direct)
    upgrade(store.engine)
    proxy = TcpProxy(server.port or 5432)
    yield proxy, server.set(database=name, port=proxy.port).render_as_string(hide_password=False), store
    proxy.close()
    store.close()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def marks(store: Stores) -> list[str]:
    """The marks (the `sent` value each test load carries) of the opens stored."""
    with store.reading() as conn:
        return sorted(conn.execute(select(opens.c.sent)).scalars())


def wait_until(condition, timeout: float) -> bool:
    """Poll a condition until it holds or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def load_marked(service, numbers: range) -> list[float]:
    """Load one pixel per number, over the reply tickets, marked so each stored open can be told apart; return latencies."""
    session = requests.Session()
    session.headers.update(THUNDERBIRD)
    latencies = []
    for n in numbers:
        ticket = TICKETS[n % len(TICKETS)]
        began = time.monotonic()
        response = session.get(
            f"{service.url}/pixel.gif?ticket_id={ticket}&requester_id=7&comment_id=1&sent=m{n}", timeout=10
        )
        assert response.status_code == 200 and response.content == pixel.GIF
        latencies.append(time.monotonic() - began)
    return latencies


def expected(count: int) -> list[str]:
    """The marks of loads 0 .. count-1, sorted as marks() returns them."""
    return sorted(f"m{n}" for n in range(count))


def outage_env(zendesk, url: str) -> dict[str, str]:
    """A service on the proxied PostgreSQL, with budgets that do not slow the test."""
    for ticket in TICKETS:
        zendesk.add_ticket(ticket, requester_id=7)
    return {"DATABASE_URL": url, **zendesk.env(), **FAST}


def assert_stored_once_and_noted(store: Stores, zendesk, count: int) -> None:
    """Every load stored exactly once, and each reply noted exactly once."""
    assert wait_until(lambda: len(marks(store)) >= count, timeout=60), f"{len(marks(store))} of {count} stored"
    assert marks(store) == expected(count), "every open stored, none twice"
    zendesk.wait_for_notes(len(TICKETS), timeout=60)
    time.sleep(1.5)  # let any duplicate arrive
    assert sorted(note.ticket_id for note in zendesk.comments) == list(TICKETS)


def test_opens_made_while_postgresql_is_away_are_all_stored_once_and_noted(services, zendesk, postgresql_behind_proxy):  # noqa: F811
    proxy, url, store = postgresql_behind_proxy
    service = services(outage_env(zendesk, url))
    proxy.cut()
    began = time.monotonic()
    latencies = load_marked(service, range(500))
    assert max(latencies) < 1.0, "the pixel does not wait for the store"
    health = requests.get(service.url + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["store"] == "unreachable" and health.json()["spool"]["bytes"] > 0
    assert "read_receipts_spool_bytes " in requests.get(service.url + "/metrics", timeout=5).text
    time.sleep(max(0.0, began + OUTAGE_SECONDS - time.monotonic()))
    proxy.restore()
    assert_stored_once_and_noted(store, zendesk, 500)
    assert wait_until(lambda: requests.get(service.url + "/healthz", timeout=5).json()["spool"]["bytes"] == 0, 10)
    assert requests.get(service.url + "/healthz", timeout=5).json()["status"] == "ok"
    assert service.output().count("delivery round failed") <= 2, "one line per worker, not a flood"


def test_kill_9_during_the_outage_loses_nothing_the_restarted_service_drains_it(
    services,  # noqa: F811
    zendesk,
    postgresql_behind_proxy,
):
    proxy, url, store = postgresql_behind_proxy
    service = services(outage_env(zendesk, url))
    proxy.cut()
    began = time.monotonic()
    load_marked(service, range(250))
    service.kill(signal.SIGKILL)
    service.start()  # while the store is still away: the pixel needs only the spool
    assert "starting anyway" in service.output()
    load_marked(service, range(250, 500))
    time.sleep(max(0.0, began + OUTAGE_SECONDS - time.monotonic()))
    proxy.restore()
    assert_stored_once_and_noted(store, zendesk, 500)


def test_kill_9_while_the_spool_drains_stores_nothing_twice(services, zendesk, postgresql_behind_proxy):  # noqa: F811
    proxy, url, store = postgresql_behind_proxy
    service = services(outage_env(zendesk, url))
    proxy.cut()
    threads = [threading.Thread(target=load_marked, args=(service, range(n, 2000, 4))) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    proxy.restore()
    assert wait_until(lambda: len(marks(store)) > 0, timeout=30)
    seen = len(marks(store))
    service.kill(signal.SIGKILL)  # in the middle of draining (500 records a transaction)
    service.start()
    assert wait_until(lambda: len(marks(store)) >= 2000, timeout=60)
    assert marks(store) == sorted(f"m{n}" for n in range(2000)), f"killed with {seen} of 2000 stored"


def test_an_unwritable_spool_still_answers_and_counts_the_loss(services, zendesk, sqlite_url, tmp_path):  # noqa: F811
    spool_dir = tmp_path / "spool"
    service = services({"DATABASE_URL": sqlite_url, "SPOOL_DIR": str(spool_dir), **zendesk.env()})
    spool_dir.rename(tmp_path / "spool-gone")
    spool_dir.write_text("the disk is gone")  # even root cannot create a file under a file
    for _ in range(20):
        response = service.load("ticket_id=42&requester_id=7&comment_id=1")
        assert response.status_code == 200 and response.content == pixel.GIF

    def lost() -> float:
        for line in requests.get(service.url + "/metrics", timeout=5).text.splitlines():
            if line.startswith('read_receipts_spool_total{outcome="lost"}'):
                return float(line.split()[-1])
        return 0.0

    assert wait_until(lambda: lost() == 20, timeout=10), service.output()
    assert 1 <= service.output().count("could not write to the spool") <= 2, "once a minute per worker"
    assert requests.get(service.url + "/healthz", timeout=5).json()["status"] == "degraded"


def test_tracking_link_opens_and_clicks_go_through_the_spool(services, zendesk, sqlite_url, tmp_path):  # noqa: F811
    from read_receipts.links.tokens import Tracker

    key = "test-only-signing-key-" + "k" * 20
    service = services({"DATABASE_URL": sqlite_url, "TRACKING_KEYS": key, **zendesk.env()})
    tracker = Tracker(service.url, (key,))
    opened = requests.get(tracker.open_url({"ticket_id": 42, "comment_id": 9}), headers=THUNDERBIRD, timeout=5)
    assert opened.status_code == 200 and opened.content == pixel.GIF
    click = requests.get(
        tracker.click_url("https://example.com/x", {"campaign": "c"}), allow_redirects=False, timeout=5
    )
    assert click.status_code == 302 and click.headers["Location"] == "https://example.com/x"
    [note] = zendesk.wait_for_notes(1, ticket_id=42)
    assert (
        "the requester opened a reply on this ticket in Thunderbird" in note.body
    )  # a link is not checked with Zendesk
    store = Stores(sqlite_url)

    def kinds() -> list[str]:
        with store.reading() as conn:
            return sorted(conn.execute(select(events.c.kind)).scalars())

    # the click was spooled by whichever worker served it, and is stored when the courier drains it
    assert wait_until(lambda: kinds() == ["click", "open"], timeout=10), kinds()
    store.close()


def test_a_worker_restarted_while_the_spool_is_unwritable_keeps_the_service_up(services, zendesk, sqlite_url, tmp_path):  # noqa: F811
    from tests.test_courier_process import children

    spool_dir = tmp_path / "spool"
    service = services({"DATABASE_URL": sqlite_url, "SPOOL_DIR": str(spool_dir), **zendesk.env()})
    spool_dir.rename(tmp_path / "spool-gone")
    spool_dir.write_text("the disk is gone")
    workers = [pid for pid in children(service.process.pid) if not children(pid)]
    os.kill(workers[0], signal.SIGKILL)  # gunicorn boots another worker while the spool is broken
    assert wait_until(lambda: len([p for p in children(service.process.pid) if not children(p)]) == 2, timeout=20)
    for _ in range(20):
        response = service.load("ticket_id=42&requester_id=7&comment_id=1")
        assert response.status_code == 200 and response.content == pixel.GIF
    assert service.process.poll() is None, service.output()


def metric(service, prefix: str) -> float:
    """One sample of /metrics (0 when it is not there)."""
    for line in requests.get(service.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


def spool_files(spool_dir) -> list[str]:
    """The names in a spool directory."""
    return sorted(os.listdir(spool_dir))


def segment_bytes(spool_dir) -> int:
    """What the spool's segments hold on disk."""
    return sum(entry.stat().st_size for entry in os.scandir(spool_dir) if entry.name.endswith(".spool"))


def load_long(service, count: int) -> None:
    """Load marked pixels (m0 ..) with a User-Agent of 500 characters, from four clients at once."""

    def load(numbers: range) -> None:
        session = requests.Session()
        session.headers["User-Agent"] = THUNDERBIRD["User-Agent"] + " " + "x" * 420
        for n in numbers:
            ticket = TICKETS[n % len(TICKETS)]
            url = f"{service.url}/pixel.gif?ticket_id={ticket}&requester_id=7&comment_id=1&sent=m{n}"
            assert session.get(url, timeout=10).content == pixel.GIF

    threads = [threading.Thread(target=load, args=(range(n, count, 4),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


def test_a_spool_at_spool_max_mb_counts_and_logs_what_it_cannot_take(services, zendesk, postgresql_behind_proxy):  # noqa: F811
    proxy, url, store = postgresql_behind_proxy
    service = services({**outage_env(zendesk, url), "SPOOL_MAX_MB": "1"})
    spool_dir = service.env["SPOOL_DIR"]
    proxy.cut()
    load_long(service, 3000)  # about 2 MB of opens: past what the spool may hold
    assert segment_bytes(spool_dir) <= 1.05 * 2**20, "the spool stays within SPOOL_MAX_MB"
    answer = requests.get(service.url + "/healthz", timeout=5)
    health = answer.json()  # neither the store nor the spool takes opens now
    assert answer.status_code == 503 and health["status"] == "unavailable" and health["spool"]["full"] is True
    assert health["spool"]["max_bytes"] == 2**20
    assert metric(service, "read_receipts_spool_max_bytes") == 2**20
    assert 1 <= service.output().count("the spool in") <= 2, "said once a minute per worker"
    assert "SPOOL_MAX_MB" in service.output()
    proxy.restore()
    assert wait_until(lambda: metric(service, 'read_receipts_spool_total{outcome="lost"}') > 0, timeout=30)
    assert wait_until(lambda: requests.get(service.url + "/healthz", timeout=5).json()["spool"]["bytes"] == 0, 60)
    # Each worker adds its losses to the tally on its own, once the store is back: the spool may be empty first.
    wait_until(lambda: len(marks(store)) + metric(service, 'read_receipts_spool_total{outcome="lost"}') >= 3000, 30)
    lost = metric(service, 'read_receipts_spool_total{outcome="lost"}')
    stored = marks(store)
    assert len(stored) == len(set(stored)) and len(stored) + lost == 3000, "every open stored once, or counted lost"
    assert len(stored) >= 1000
    assert requests.get(service.url + "/healthz", timeout=5).json()["spool"]["full"] is False
    load_marked(service, range(3000, 3010))  # room again: opens are stored
    assert wait_until(lambda: len(marks(store)) == len(stored) + 10, timeout=20)


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, or skip where this user may not mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk) -> None:
    """Take every free byte of a disk."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    for chunk in (b"\0" * 65536, b"\0"):  # then the last bytes, one at a time
        try:
            while os.write(fd, chunk):
                pass
        except OSError:
            pass
    os.close(fd)


def test_a_full_disk_leaves_the_spool_small_and_counts_every_lost_open(services, zendesk, small_disk):  # noqa: F811
    database_url = f"sqlite:///{small_disk}/store.db"  # the default: the store beside its spool, on one disk
    fresh = Stores(database_url)
    upgrade(fresh.engine)
    fresh.close()
    spool_dir = small_disk / "spool"
    for ticket in TICKETS:
        zendesk.add_ticket(ticket, requester_id=7)
    service = services({"DATABASE_URL": database_url, "SPOOL_DIR": str(spool_dir), **zendesk.env(), **FAST})
    load_marked(service, range(10))
    store = Stores(database_url)
    assert wait_until(lambda: len(marks(store)) == 10, timeout=20)
    fill(small_disk)
    load_marked(service, range(10, 1010))
    assert len(spool_files(spool_dir)) <= 12, "no new file per lost open"
    assert requests.get(service.url + "/healthz", timeout=5).json()["status"] == "degraded"
    os.unlink(small_disk / "filler")
    load_marked(service, range(1010, 1020))
    assert wait_until(lambda: "m1019" in marks(store), timeout=30)
    lost = 0.0
    assert wait_until(lambda: metric(service, 'read_receipts_spool_total{outcome="lost"}') > 0, timeout=20)
    # Each worker adds its losses to the tally on its own, once the store is back: the other may come later.
    wait_until(lambda: len(marks(store)) + metric(service, 'read_receipts_spool_total{outcome="lost"}') >= 1020, 30)
    lost = metric(service, 'read_receipts_spool_total{outcome="lost"}')
    stored = marks(store)
    assert len(stored) == len(set(stored)) and len(stored) + lost == 1020, "every open stored once, or counted lost"
    assert 1 <= service.output().count("could not write to the spool") <= 2
    assert len(spool_files(spool_dir)) <= 12
    store.close()


def test_opens_after_the_spool_directory_is_removed_are_stored(services, zendesk, sqlite_url):  # noqa: F811
    import shutil

    for ticket in TICKETS:
        zendesk.add_ticket(ticket, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), **FAST})
    store = Stores(sqlite_url)
    load_marked(service, range(100))  # each worker writes to a segment of its own
    assert wait_until(lambda: len(marks(store)) == 100, timeout=20)
    shutil.rmtree(service.env["SPOOL_DIR"])
    load_marked(service, range(100, 2000))
    assert wait_until(lambda: len(marks(store)) >= 2000, timeout=30), f"{len(marks(store))} of 2000 stored"
    assert marks(store) == expected(2000)
    assert metric(service, 'read_receipts_spool_total{outcome="lost"}') == 0
    assert "was removed" in service.output()
    store.close()


def test_a_fifo_named_like_a_segment_is_skipped_and_logged_not_waited_on(services, zendesk, sqlite_url):  # noqa: F811
    for ticket in TICKETS:
        zendesk.add_ticket(ticket, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), **FAST})
    os.mkfifo(os.path.join(service.env["SPOOL_DIR"], "00000000000000000001-1-deadbeef.spool"))
    store = Stores(sqlite_url)
    load_marked(service, range(20))
    assert wait_until(lambda: len(marks(store)) == 20, timeout=20), "the courier does not hang on the FIFO"
    health = requests.get(service.url + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    load_marked(service, range(20, 40))
    assert wait_until(lambda: len(marks(store)) == 40, timeout=20)
    assert service.output().count("00000000000000000001-1-deadbeef.spool is not a regular file") == 1
    store.close()


def test_a_regular_file_in_the_doorbell_s_place_is_never_written_to(services, zendesk, sqlite_url):  # noqa: F811
    from read_receipts.delivery.doorbell import BELL_NAME

    for ticket in TICKETS:
        zendesk.add_ticket(ticket, requester_id=7)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), **FAST})
    bell = os.path.join(service.env["SPOOL_DIR"], BELL_NAME)
    os.unlink(bell)
    with open(bell, "w") as planted:
        planted.write("keep")
    store = Stores(sqlite_url)
    load_marked(service, range(50))
    assert wait_until(lambda: len(marks(store)) == 50, timeout=20), "the courier finds opens by polling"
    with open(bell) as planted:
        assert planted.read() == "keep", "no worker writes a ring into a regular file"
    assert 1 <= service.output().count("is not a FIFO") <= 3  # once a process
    store.close()


def test_a_nul_byte_in_sent_does_not_lose_the_open_on_postgresql(services, zendesk, tmp_path):  # noqa: F811
    from tests.conftest import fresh_database

    database_url = fresh_database("postgresql", tmp_path)
    service = services({"DATABASE_URL": database_url, **zendesk.env()})
    for comment in (1, 2, 3):
        response = service.load(f"ticket_id=42&requester_id=7&comment_id={comment}&sent=a%00b")
        assert response.status_code == 200 and response.content == pixel.GIF
    store = Stores(database_url)
    assert wait_until(lambda: marks(store) == ["ab", "ab", "ab"], timeout=20), marks(store)
    zendesk.wait_for_notes(1, ticket_id=42)
    assert metric(service, 'read_receipts_spool_total{outcome="unreadable"}') == 0
    store.close()
