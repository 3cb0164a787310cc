"""Courier bench: how fast the courier stores, labels and settles a varied flood, against the pixel's own rate.

Run from the repository root:

    .venv/bin/python bench/courier_bench.py                  # SQLite, about a minute
    .venv/bin/python bench/courier_bench.py --database postgresql://postgres@127.0.0.1:5432/bench

The service is the Procfile's `web:` command (bound to 127.0.0.1, one proxy hop), in a dry run (no Zendesk
credentials: notes are logged) with VERIFY_REQUESTER=false, so that opens are settled without waiting on
Zendesk, and TRACKING_KEYS set. Phase 1: the courier process is stopped (SIGSTOP) and 8 client threads
load a varied flood for `--seconds`: Zendesk pixel loads of 2,000 tickets and signed-link opens of 2,000
recipients, 1,500 distinct User-Agents (versions of real mail clients and browsers), a quarter of the
loads as Apple Mail's preloads (`Mozilla/5.0` alone), from 500 addresses. The pixel alone answers them
(opens/s of the pixel; the client is Python, so this is what it could send, not the pixel's ceiling).
Phase 2: the courier is resumed (SIGCONT) with the clients stopped, and timed until the spool is empty
and no open or event is left new in the store (opens/s of the courier). Printed: both rates and their
ratio (courier / pixel: 1.0 means storing and labelling an open costs what answering it costs).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import servers
from sqlalchemy import create_engine, text

sys.path.insert(0, str(servers.ROOT))

import config  # noqa: E402
from read_receipts.links import Tracker  # noqa: E402

KEY = "bench-tracking-key-" + "k" * 32
CLIENTS = 8
CLIENT_TEMPLATES = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Thunderbird/{v}.{m}.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{m}.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.{m} Safari/605.1.15",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.{v}{m}; Pro)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS {v}_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.{m}",
)
APPLE_PRELOAD = "Mozilla/5.0"


def main() -> None:
    """Fill the spool with the courier stopped, then time the courier's catch-up; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of flood, courier stopped")
    parser.add_argument("--database", default="", help="a PostgreSQL URL (its tables are emptied); default SQLite")
    parser.add_argument("--wait", type=float, default=300.0, help="most seconds the courier may take")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{tmp}/courier.db"
        port = servers.free_port()
        command = servers.loopback_only(servers.procfile_web_command())
        with servers.Gunicorn(command, _env(port, database), port, 2, Path(tmp) / "gunicorn.log") as service:
            _empty(database)
            figures = _bench(service, port, database, args)
    print(json.dumps(figures, indent=2))


def _env(port: int, database: str) -> dict[str, str]:
    """The service's environment: a dry run without requester checks, links on, one proxy hop."""
    inherited = {s.name for s in config.SETTINGS} | {"GUNICORN_CMD_ARGS"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env.update(PORT=str(port), WEB_CONCURRENCY="2", DATABASE_URL=database, PROXY_HOPS="1")
    env.update(PUBLIC_URL=f"http://127.0.0.1:{port}", TRACKING_KEYS=KEY, VERIFY_REQUESTER="false")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _empty(database: str) -> None:
    """Start from an empty store (a PostgreSQL database given may hold an earlier run's rows)."""
    engine = create_engine(database)
    with engine.begin() as conn:
        for table in ("opens", "events", "deliveries", "replies", "tickets", "webhooks"):
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


def _requests(port: int) -> list[tuple[str, dict[str, str]]]:
    """The varied flood: pixel loads and link opens, many clients, Apple preloads, many addresses."""
    rng = random.Random(23)
    tracker = Tracker(f"http://127.0.0.1:{port}", (KEY,))
    base = len(f"http://127.0.0.1:{port}")
    agents = [t.format(v=v, m=m) for t in CLIENT_TEMPLATES for v in range(100, 125) for m in range(10)]
    links = [tracker.open_url({"campaign": "bench", "recipient": n})[base:] for n in range(2000)]
    made = []
    for n in range(20_000):
        path = f"/pixel.gif?ticket_id={9000 + n % 2000}&requester_id={n % 2000}" if n % 2 else links[n % 2000]
        agent = APPLE_PRELOAD if n % 4 == 0 else rng.choice(agents)
        made.append((path, {"User-Agent": agent, "X-Forwarded-For": f"198.51.{n % 2}.{n % 250}"}))
    return made


def _flood(port: int, seconds: float) -> int:
    """Load the flood from CLIENTS threads on kept-alive connections for `seconds`; return the loads answered."""
    flood = _requests(port)
    answered = [0] * CLIENTS
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        conn, n = http.client.HTTPConnection("127.0.0.1", port, timeout=10), index
        while time.monotonic() < deadline:
            path, headers = flood[n % len(flood)]
            n += CLIENTS
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                answered[index] += response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(answered)


def _bench(service: servers.Gunicorn, port: int, database: str, args) -> dict:
    """Phase 1 (pixel alone) and phase 2 (courier alone); return the figures."""
    time.sleep(2)  # the courier's start-up is over
    courier = [pid for pid in service.courier_pids() if not servers._children(pid)][0]
    os.kill(courier, signal.SIGSTOP)
    try:
        started = time.monotonic()
        loads = _flood(port, args.seconds)
        pixel_seconds = time.monotonic() - started
    finally:
        os.kill(courier, signal.SIGCONT)
    resumed = time.monotonic()
    engine = create_engine(database)
    stored = left = 0
    while time.monotonic() - resumed < args.wait:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT (SELECT count(*) FROM opens) + (SELECT count(*) FROM events)")).scalar()
            left = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM opens WHERE state = 'new') + (SELECT count(*) FROM events WHERE state = 'new')"
                )
            ).scalar()
        if stored >= loads and left == 0:
            break
        time.sleep(0.1)
    courier_seconds = time.monotonic() - resumed
    engine.dispose()
    pixel_rate, courier_rate = loads / pixel_seconds, stored / courier_seconds
    return {
        "database": database.split(":", 1)[0],
        "loads answered, courier stopped": loads,
        "pixel alone, opens/s": round(pixel_rate),
        "stored and settled": stored,
        "left new": left,
        "courier, seconds to catch up": round(courier_seconds, 1),
        "courier alone, opens/s": round(courier_rate),
        "ratio courier / pixel": round(courier_rate / pixel_rate, 2),
    }


if __name__ == "__main__":
    main()
