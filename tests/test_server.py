"""The service as deployed: the Procfile's gunicorn command, real processes, kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select

from read_receipts.intake import pixel
from read_receipts.store.schema import opens
from tests.conftest import fresh_database

ROOT = Path(__file__).resolve().parent.parent
THUNDERBIRD = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"}
pytestmark = pytest.mark.server


def procfile_command() -> str:
    """Return the Procfile's web command."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("Procfile has no web: line")


def free_port() -> int:
    """Pick a free local port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """One instance of the service, started with the Procfile's command."""

    def __init__(self, tmp_path: Path, env: dict[str, str], cwd: Path = ROOT):
        self.port = free_port()
        self.log = tmp_path / f"service-{self.port}.log"
        self.env = {**os.environ, "PORT": str(self.port), "WEB_CONCURRENCY": "2", "PYTHONPATH": str(ROOT)}
        # Each instance its own spool (kept across its restarts), as each host has its own disk.
        self.env.update({"SPOOL_DIR": str(tmp_path / f"spool-{self.port}"), **env})
        # gunicorn from the environment running the tests, as a Procfile host has it on PATH
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Service:
        """Start gunicorn in its own process group."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", procfile_command()],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 20.0) -> None:
        """Wait until /healthz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError(f"service did not start:\n{self.output()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the service (master and workers)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(20)

    def output(self) -> str:
        """Everything the service printed."""
        return self.log.read_text(errors="replace")

    def load(self, query: str) -> requests.Response:
        """Load the pixel as a mail client would."""
        return requests.get(f"{self.url}/pixel.gif?{query}", headers=THUNDERBIRD, timeout=10)


@pytest.fixture
def services(tmp_path):
    """Start services; kill whatever is left at the end."""
    started: list[Service] = []

    def start(env: dict[str, str], **kwargs) -> Service:
        started.append(Service(tmp_path, env, **kwargs).start())
        return started[-1]

    yield start
    for service in started:
        service.kill()


def count_opens(database_url: str) -> int:
    """Count the opens stored in a database."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(opens)).scalar_one()
    engine.dispose()
    return count


def test_procfile_service_answers_the_pixel_and_notes_the_ticket(services, zendesk, sqlite_url):
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env()})
    response = service.load("ticket_id=42&requester_id=7&comment_id=3")
    assert response.status_code == 200 and len(response.content) == 43
    assert response.headers["Cache-Control"].startswith("no-store")
    [note] = zendesk.wait_for_notes(1, ticket_id=42)
    assert note.public is False and "your reply of Sun, Nov 22, 1:06 PM, by Ann in" in note.body
    assert requests.get(service.url + "/healthz", timeout=5).json()["status"] == "ok"


def test_embedded_defaults_run_without_zendesk_and_log_the_note(services, tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for path in [*ROOT.glob("*.py"), ROOT / "Procfile"]:
        shutil.copy(path, checkout)
    shutil.copytree(ROOT / "read_receipts", checkout / "read_receipts", ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        name: "" for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_URL", "DATABASE_URL")
    }
    service = services({**env, "PYTHONPATH": ""}, cwd=checkout)
    assert service.load("ticket_id=42&requester_id=7").status_code == 200
    deadline = time.monotonic() + 10
    while "no note posted to ticket 42" not in service.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "dry run: no Zendesk credentials are set" in service.output()
    assert "no note posted to ticket 42" in service.output()
    assert (checkout / "read_receipts.db").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROXY_HOPS": "two"}, "PROXY_HOPS must be a number from 0 to 5"),
        ({"ZENDESK_EMAIL": "agent@example.com"}, "ZENDESK_API_TOKEN is not set"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL must be sqlite:///... or postgresql://..."),
        ({"NOTE_TIMEZONE": "Mars/Olympus"}, "is not a known time zone"),
        ({"DATABASE_URL": "sqlite:////nonexistent/dir/x.db"}, "Cannot open the store named by DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/x"}, "Cannot open the store named by DATABASE_URL"),
    ],
)
def test_bad_setting_stops_startup_with_a_fix(tmp_path, env, message):
    service = Service(tmp_path, {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **env})
    service.port = 0  # never listens
    service.start(wait=False)
    assert service.process.wait(30) != 0
    assert message in service.output()
    assert "Traceback" not in service.output()


def test_kill_9_loses_no_answered_open_and_doubles_no_note(services, zendesk, sqlite_url, tmp_path):
    for ticket in range(1000, 1060):
        zendesk.add_ticket(ticket, requester_id=7)
    zendesk.delay = 0.05  # keep notes in flight when the kill lands
    env = {
        "DATABASE_URL": sqlite_url,
        **zendesk.env(),
        "ZENDESK_UPDATES_PER_MINUTE": "300",
        "ZENDESK_REQUESTS_PER_MINUTE": "2500",
    }
    service = services(env)
    answered = 0
    for round_start in (1000, 1020, 1040):
        stop = threading.Event()
        threading.Timer(0.4, stop.set).start()
        for ticket in range(round_start, round_start + 20):
            if service.load(f"ticket_id={ticket}&requester_id=7&comment_id=1").status_code == 200:
                answered += 1
            if stop.is_set():
                break
        service.kill(signal.SIGKILL)
        service.start()
    for ticket in range(1000, 1060):
        service.load(f"ticket_id={ticket}&requester_id=7&comment_id=1")
    deadline = time.monotonic() + 30  # spooled at once, stored by the couriers soon after
    while count_opens(sqlite_url) < answered + 60 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert count_opens(sqlite_url) == answered + 60
    zendesk.wait_for_notes(60, timeout=60)
    deadline = time.monotonic() + 30  # a doubled note can arrive before the last single one
    while len({note.ticket_id for note in zendesk.comments}) < 60 and time.monotonic() < deadline:
        time.sleep(0.2)
    tickets = [note.ticket_id for note in zendesk.comments]
    assert sorted(set(tickets)) == list(range(1000, 1060)), "every reply noted"
    doubled = len(tickets) - len(set(tickets))
    assert doubled == 0, "a note in flight at a kill is looked for on its ticket before it is posted again"


def test_instances_sharing_postgresql_post_each_note_once(services, zendesk, tmp_path):
    database_url = fresh_database("postgresql", tmp_path)
    for ticket in range(2000, 2040):
        zendesk.add_ticket(ticket, requester_id=7)
    env = {
        "DATABASE_URL": database_url,
        **zendesk.env(),
        "ZENDESK_UPDATES_PER_MINUTE": "300",
        "ZENDESK_REQUESTS_PER_MINUTE": "2500",
    }
    first, second = services(env), services(env)
    for ticket in range(2000, 2040):
        for service in (first, second, first):
            assert service.load(f"ticket_id={ticket}&requester_id=7&comment_id=1").status_code == 200
    notes = zendesk.wait_for_notes(40, timeout=30)
    time.sleep(1.5)  # let any duplicate arrive
    assert sorted(note.ticket_id for note in zendesk.comments) == list(range(2000, 2040))
    assert zendesk.count_calls("GET", "/api/v2/tickets/2") == 40, "each ticket checked once"
    assert len(notes) == 40


def test_flood_of_loads_and_hostile_requests_gets_images_and_a_handful_of_notes(services, zendesk, sqlite_url):
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env()})
    queries = ["ticket_id=42&requester_id=7&comment_id=8"] * 6 + [
        "ticket_id=42&requester_id=8",
        "ticket_id=-1",
        "ticket_id=%00%ff&requester_id=' OR 1=1 --",
        "ticket_id=" + "9" * 5000,
        "",
    ]
    statuses: list[int] = []

    def hammer(worker: int) -> None:
        session = requests.Session()
        session.headers.update(THUNDERBIRD)
        for i in range(150):
            query = queries[(worker + i) % len(queries)]
            response = session.get(f"{service.url}/pixel.gif?{query}", timeout=10)
            statuses.append(response.status_code if response.content == pixel.GIF else -1)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [200] * 1200
    zendesk.wait_for_notes(1, ticket_id=42)
    time.sleep(1.5)
    [note] = zendesk.notes_on(42)
    assert "your reply of Sun, Nov 22, 1:11 PM, by Ann in" in note.body


def test_a_kept_alive_connection_is_closed_after_100_requests_so_workers_share_them(services, sqlite_url):
    import http.client

    service = services({"DATABASE_URL": sqlite_url})
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    answers = []
    for _ in range(100):
        conn.request("GET", "/pixel.gif")
        response = conn.getresponse()
        answers.append((response.status, response.getheader("Connection"), response.read()))
    assert answers[0] == (200, "keep-alive", pixel.GIF) and answers[98][1] == "keep-alive"
    assert answers[99] == (200, "close", pixel.GIF)  # the 100th: the client reconnects, to any worker
    conn.close()
