"""Webhook bench: signed-link opens sent on to a receiver on 127.0.0.1, in batches and one by one.

Run from the repository root:

    .venv/bin/python bench/webhook_bench.py                       # about two minutes
    .venv/bin/python bench/webhook_bench.py --events 100000 --batch 100 --baseline-events 10000

The service is the Procfile's `web:` command (bound to 127.0.0.1) on SQLite, with TRACKING_KEYS,
WEBHOOK_SECRET and one receiver in WEBHOOK_URLS. The receiver runs in a process of its own: it checks
every POST's signature, takes a JSON object or an array, and counts the events it had not seen (by `id`)
apart from repeats. Each run loads `--events` distinct signed-link opens (each link its own metadata)
from 8 client threads, then waits until the receiver holds every one. Printed per run: the seconds to
load them, the seconds from the first load until the last event was received, events per second, the
POSTs made, and the receiver's count of unique events, repeats and refused signatures. The baseline
(WEBHOOK_BATCH_SIZE=1) is the same run with fewer events; the ratio compares events per second.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import servers

sys.path.insert(0, str(servers.ROOT))

import config  # noqa: E402
from read_receipts.links import Tracker, verify_webhook  # noqa: E402

KEY = "bench-tracking-key-" + "k" * 32
SECRET = "bench-webhook-secret-" + "s" * 32
CLIENTS = 8
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"


def main() -> None:
    """Run the batched and the one-by-one delivery, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="signed-link opens, batching on")
    parser.add_argument("--batch", type=int, default=100, help="WEBHOOK_BATCH_SIZE of the batched run")
    parser.add_argument("--baseline-events", type=int, default=10_000, help="opens of the WEBHOOK_BATCH_SIZE=1 run")
    parser.add_argument("--wait", type=float, default=600.0, help="most seconds to wait for the receiver")
    args = parser.parse_args()
    runs = [run(args.batch, args.events, args.wait)]
    if args.baseline_events:
        runs.append(run(1, args.baseline_events, args.wait))
    print(json.dumps(runs, indent=2))
    if len(runs) == 2:
        print(
            f"events/s, batches of {args.batch} / one by one: {runs[0]['events_per_s'] / runs[1]['events_per_s']:.1f}x"
        )


def run(batch: int, events: int, wait: float) -> dict:
    """One service, one receiver, `events` opens; return the figures."""
    ready = multiprocessing.Event()
    receiver_port = servers.free_port()
    receiver = multiprocessing.Process(target=_receive, args=(receiver_port, ready), daemon=True)
    receiver.start()
    ready.wait(10)
    with tempfile.TemporaryDirectory() as tmp:
        port = servers.free_port()
        env = _env(port, Path(tmp) / "webhooks.db", f"http://127.0.0.1:{receiver_port}/hook", batch)
        command = servers.loopback_only(servers.procfile_web_command())
        with servers.Gunicorn(command, env, port, 2, Path(tmp) / "gunicorn.log") as service:
            tracker = Tracker(f"http://127.0.0.1:{port}", (KEY,))
            base = len(f"http://127.0.0.1:{port}")
            paths = [tracker.open_url({"campaign": "bench", "recipient": n})[base:] for n in range(events)]
            started = time.monotonic()
            failed = _load(port, paths)
            loaded = time.monotonic() - started
            counts = _wait_for(receiver_port, events, started + wait)
            delivered = time.monotonic() - started
            if counts["unique"] < events:
                print(service.log_tail(), file=sys.stderr)
    receiver.terminate()
    return {
        "WEBHOOK_BATCH_SIZE": batch,
        "events": events,
        "load_errors": failed,
        "seconds_to_load": round(loaded, 1),
        "seconds_to_deliver_all": round(delivered, 1),
        "events_per_s": round(counts["unique"] / delivered),
        **counts,
    }


def _env(port: int, db: Path, receiver: str, batch: int) -> dict[str, str]:
    """The service's environment: defaults, but for the port, the store, the links and the receiver."""
    inherited = {s.name for s in config.SETTINGS} | {"GUNICORN_CMD_ARGS"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env.update(
        PORT=str(port), WEB_CONCURRENCY="2", DATABASE_URL=f"sqlite:///{db}", PUBLIC_URL=f"http://127.0.0.1:{port}"
    )
    env.update(TRACKING_KEYS=KEY, WEBHOOK_URLS=receiver, WEBHOOK_SECRET=SECRET, WEBHOOK_BATCH_SIZE=str(batch))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _load(port: int, paths: list[str]) -> int:
    """Load every path once, from CLIENTS threads on kept-alive connections; return the failed loads."""
    failures = [0] * CLIENTS

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for path in paths[index::CLIENTS]:
            try:
                conn.request("GET", path, headers={"User-Agent": THUNDERBIRD})
                response = conn.getresponse()
                response.read()
                failures[index] += response.status != 200
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                failures[index] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(failures)


def _wait_for(port: int, events: int, deadline: float) -> dict:
    """Poll the receiver until it holds `events` unique events, or the deadline; return its counts."""
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/count")
        counts = json.loads(conn.getresponse().read())
        conn.close()
        if counts["unique"] >= events or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def _receive(port: int, ready) -> None:
    """The receiver: verifies each POST, takes an event or an array, and counts unique events and repeats."""
    seen: set[str] = set()
    counts = {"unique": 0, "repeats": 0, "posts": 0, "refused": 0, "largest_post": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not verify_webhook(SECRET, self.headers.get("X-Signature", ""), body):
                with lock:
                    counts["refused"] += 1
                return self._answer(401, b"")
            events = json.loads(body)
            events = events if isinstance(events, list) else [events]
            with lock:
                counts["posts"] += 1
                counts["largest_post"] = max(counts["largest_post"], len(events))
                for event in events:
                    fresh = event["id"] not in seen
                    seen.add(event["id"])
                    counts["unique" if fresh else "repeats"] += 1
            self._answer(204, b"")

        def do_GET(self):
            with lock:
                body = json.dumps(counts).encode()
            self._answer(200, body)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever(0.05)


if __name__ == "__main__":
    main()
