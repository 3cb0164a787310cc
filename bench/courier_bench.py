"""Courier bench: how fast the courier stores, labels and settles a varied flood, against the pixel's own rate.

Run from the repository root:

    .venv/bin/python bench/courier_bench.py                                  # SQLite, about two minutes
    .venv/bin/python bench/courier_bench.py --database postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/courier_bench.py --rounds 5 --seconds 10 --flood 60   # the full measurement

Needs wrk (`apt-get install -y wrk`): a Python client saturates before the pixel does, and the pixel's rate
is the baseline. The service is the Procfile's `web:` command (bound to 127.0.0.1, one proxy hop), in a dry
run (no Zendesk credentials: notes are logged) with VERIFY_REQUESTER=false, so that opens are settled
without waiting on Zendesk, and TRACKING_KEYS set; its store is a fresh SQLite file, or a database made on
the PostgreSQL server `--database` names and dropped after the run (backends.py, as the pixel bench does).

The flood: wrk with 16 connections cycling over 20,000 requests, half Zendesk pixel loads of 2,000 tickets
and half signed-link opens of 2,000 recipients, from 1,500 distinct User-Agents (versions of six real mail
clients and browsers), a quarter of them Apple Mail's preloads (`Mozilla/5.0` alone), from 500 addresses.

Each round: the courier process is stopped (SIGSTOP) while wrk loads the flood for `--seconds`: the pixel
alone answers it (opens/s of the pixel, the baseline). Then wrk stops, the courier is resumed (SIGCONT), and
timed until every load answered is stored and none is left new (opens/s of the courier). The ratio courier /
pixel is printed per round, with the best and the median: 1.0 means storing and labelling an open costs what
answering it costs. So is the CPU time per load of the request workers (answering) and of the courier process
(storing, labelling, settling), and their ratio, which the machine's other work moves less than the rates. Then, with `--flood` seconds above 0, the courier runs while wrk loads the flood at the
pixel's full rate; printed: the backlog when the flood ends and the seconds until it is cleared (target:
within as many seconds as the flood lasted).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import backends
import loadgen
import servers
from sqlalchemy import create_engine, text

sys.path.insert(0, str(servers.ROOT))

import config  # noqa: E402
from read_receipts.links import Tracker  # noqa: E402

KEY = "bench-tracking-key-" + "k" * 32
CONNECTIONS = 16
CLIENT_TEMPLATES = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Thunderbird/{v}.{m}.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{m}.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.{m} Safari/605.1.15",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.{v}{m}; Pro)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS {v}_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.{m}",
)
APPLE_PRELOAD = "Mozilla/5.0"
POLL_SECONDS = 0.2
RATES = ("pixel", "courier", "ratio", "pixel CPU us", "courier CPU us", "CPU ratio")


def main() -> None:
    """Run the rounds (pixel alone, then courier alone) and the flood; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of flood per round, courier stopped")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of pixel alone, then courier alone")
    parser.add_argument("--flood", type=float, default=20.0, help="seconds of flood with the courier running (0: none)")
    parser.add_argument("--database", default="sqlite", help="sqlite, or a postgresql:// URL of a server")
    parser.add_argument("--wait", type=float, default=300.0, help="most seconds the courier may take to catch up")
    args = parser.parse_args()
    if loadgen.wrk_version() is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    print(f"date {time.strftime('%Y-%m-%d %H:%M %Z')}; {loadgen.wrk_version()}; load average {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="courier-bench-") as tmp:
        store = backends.make_store(args.database, Path(tmp))
        try:
            port = servers.free_port()
            paths, headers = _requests(port)
            load = loadgen.WrkLoad(paths, Path(tmp), headers)
            command = servers.loopback_only(servers.procfile_web_command())
            env = _env(port, store.url, Path(tmp) / "spool")
            with servers.Gunicorn(command, env, port, 2, Path(tmp) / "gunicorn.log") as service:
                figures = _bench(service, load, store.url, args)
        finally:
            store.drop()
    print(json.dumps(figures, indent=2))


def _env(port: int, database: str, spool: Path) -> dict[str, str]:
    """The service's environment: a dry run without requester checks, links on, one proxy hop."""
    inherited = {s.name for s in config.SETTINGS} | {"GUNICORN_CMD_ARGS"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env.update(PORT=str(port), WEB_CONCURRENCY="2", DATABASE_URL=database, PROXY_HOPS="1", SPOOL_DIR=str(spool))
    env.update(PUBLIC_URL=f"http://127.0.0.1:{port}", TRACKING_KEYS=KEY, VERIFY_REQUESTER="false")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _requests(port: int) -> tuple[list[str], list[dict[str, str]]]:
    """The varied flood: pixel loads and link opens, many clients, Apple preloads, many addresses."""
    rng = random.Random(23)
    tracker = Tracker(f"http://127.0.0.1:{port}", (KEY,))
    base = len(f"http://127.0.0.1:{port}")
    agents = [t.format(v=v, m=m) for t in CLIENT_TEMPLATES for v in range(100, 125) for m in range(10)]
    links = [tracker.open_url({"campaign": "bench", "recipient": n})[base:] for n in range(2000)]
    paths, headers = [], []
    for n in range(20_000):
        paths.append(f"/pixel.gif?ticket_id={9000 + n % 2000}&requester_id={n % 2000}" if n % 2 else links[n % 2000])
        agent = APPLE_PRELOAD if n % 4 == 0 else rng.choice(agents)
        headers.append({"User-Agent": agent, "X-Forwarded-For": f"198.51.{n % 2}.{n % 250}"})
    return paths, headers


class Counts:
    """What the store holds: loads stored (opens and events) and those still new."""

    def __init__(self, database: str):
        self.engine = create_engine(database)

    def now(self) -> tuple[int, int]:
        """Return (stored, left new); ids only grow and nothing is deleted, so the largest id is the count."""
        with self.engine.connect() as conn:
            stored = conn.execute(
                text("SELECT (SELECT coalesce(max(id), 0) FROM opens) + (SELECT coalesce(max(id), 0) FROM events)")
            ).scalar()
            left = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM opens WHERE state = 'new')"
                    " + (SELECT count(*) FROM events WHERE state = 'new')"
                )
            ).scalar()
        return stored, left

    def settled(self, served: int, wait: float) -> float | None:
        """Seconds until `served` loads are stored and none is left new (None: not within `wait`)."""
        began = time.monotonic()
        while time.monotonic() - began < wait:
            stored, left = self.now()
            if stored >= served and left == 0:
                return time.monotonic() - began
            time.sleep(POLL_SECONDS)
        return None


def _bench(service: servers.Gunicorn, load: loadgen.WrkLoad, database: str, args) -> dict:
    """The rounds, then the flood; return the figures."""
    time.sleep(2)  # the courier's start-up is over
    courier = [pid for pid in service.courier_pids() if not servers._children(pid)][0]
    counts = Counts(database)
    before = counts.now()[0]
    warm = load.run(service.port, CONNECTIONS, 1)  # warm-up: every worker has answered both routes
    if counts.settled(before + warm.requests, args.wait) is None:
        raise SystemExit("the courier did not store the warm-up")
    rounds = [_round(service, load, courier, counts, args) for _ in range(args.rounds)]
    for n, one in enumerate(rounds, 1):
        print(
            f"  round {n}: pixel {one['pixel']:,.0f}/s, courier {one['courier']:,.0f}/s, ratio {one['ratio']:.2f}; "
            f"CPU per load: pixel {one['pixel CPU us']} us, courier {one['courier CPU us']} us",
            flush=True,
        )
    figures = {
        "database": database.split(":", 1)[0],
        "rounds": rounds,
        **{f"{what} best": max(r[what] for r in rounds) for what in ("pixel", "courier", "ratio", "CPU ratio")},
        **{f"{what} median": statistics.median(r[what] for r in rounds) for what in RATES},
    }
    if args.flood > 0:
        figures["flood"] = _flood(load, service.port, counts, args)
    figures["load average at the end"] = _load()
    counts.engine.dispose()
    return figures


def _round(service: servers.Gunicorn, load: loadgen.WrkLoad, courier: int, counts: Counts, args) -> dict:
    """The pixel alone (courier stopped), then the courier alone (no load); return both rates and their ratio.

    Also the CPU time each used per load (from /proc: the request workers', the courier process's; the
    database server's and wrk's are left out): the machine is shared, and CPU time is what noise moves least.
    """
    before = counts.now()[0]
    workers = service.worker_pids()
    os.kill(courier, signal.SIGSTOP)
    try:
        pixel_cpu = servers.cpu_seconds(workers)
        answered = load.run(service.port, CONNECTIONS, args.seconds)
        pixel_cpu = servers.cpu_seconds(workers) - pixel_cpu
    finally:
        os.kill(courier, signal.SIGCONT)
    if answered.errors:
        raise SystemExit(f"{answered.errors} loads were not answered 200")
    courier_cpu = servers.cpu_seconds([courier])
    seconds = counts.settled(before + answered.requests, args.wait)
    courier_cpu = servers.cpu_seconds([courier]) - courier_cpu
    if seconds is None:
        raise SystemExit(f"the courier did not settle {answered.requests} loads within {args.wait:g} s")
    stored = counts.now()[0] - before
    pixel, courier_rate = answered.rate, stored / seconds
    return {
        "pixel CPU us": round(pixel_cpu / answered.requests * 1e6),
        "courier CPU us": round(courier_cpu / stored * 1e6),
        "CPU ratio": round(pixel_cpu / answered.requests / (courier_cpu / stored), 2),
        "loads": answered.requests,
        "pixel": round(pixel),
        "stored": stored,
        "courier seconds": round(seconds, 2),
        "courier": round(courier_rate),
        "ratio": round(courier_rate / pixel, 2),
    }


def _flood(load: loadgen.WrkLoad, port: int, counts: Counts, args) -> dict:
    """Load the flood at the pixel's full rate with the courier running; time the backlog's clearing after it."""
    before = counts.now()[0]
    answered = load.run(port, CONNECTIONS, args.flood)
    stored, left = counts.now()
    backlog = before + answered.requests - stored + left
    seconds = counts.settled(before + answered.requests, args.wait)
    return {
        "seconds": args.flood,
        "loads": answered.requests,
        "pixel while the courier runs, loads/s": round(answered.rate),
        "errors": answered.errors,
        "backlog when it ended (not stored, or stored and new)": backlog,
        "seconds to clear it": None if seconds is None else round(seconds, 1),
        "cleared within the flood's length": seconds is not None and seconds <= args.flood,
    }


def _load() -> str:
    """The load averages, as uptime prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
