"""Pixel benchmark: throughput as a ratio to a bare WSGI app, latency under a slow Zendesk, delivery lag, worker RSS.

Run from the repository root:

    .venv/bin/python bench/pixel_bench.py            # SQLite, and PostgreSQL when TEST_DATABASE_URL is set
    .venv/bin/python bench/pixel_bench.py --database sqlite --database postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/pixel_bench.py --seconds 3 --pairs 2   # quicker, noisier

Needs wrk for trustworthy figures (Debian/Ubuntu: `apt-get install -y wrk`). Without wrk it falls back to
Python threads, which on a 2-core machine saturate the client before the server: the ratio and latencies
are then only indicative. `--client python` forces the fallback.

The servers are the Procfile's `web:` command, run with bash (the bind address rewritten to 127.0.0.1), and
the same command with the app spec swapped for bench/bare_wsgi.py. Each app run gets a fresh store: a SQLite file,
or a database created on the named PostgreSQL server and dropped after the run. Zendesk is tests/zendesk_standin.py on
127.0.0.1. Each gunicorn runs in its own process group, killed at the end of its run; every file lives in
one temp directory that is removed on exit.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import backends
import loadgen
import servers

sys.path.insert(0, str(servers.ROOT))  # the service's modules and tests/ live at the repository root

import config  # noqa: E402
from read_receipts.intake import pixel  # noqa: E402
from read_receipts.links.tokens import Tracker  # noqa: E402
from tests.zendesk_standin import ZendeskStandIn  # noqa: E402

LOAD_TICKETS = range(1001, 1041)  # cycled over by the throughput and latency loads
LAG_TICKETS = range(3001, 3041)  # one first open each, for the delivery lag
WARMUP_SECONDS = 1.0
SLOW_ZENDESK_SECONDS = 2.0
LAG_LOADS_PER_SECOND = 5.0
LAG_WAIT_SECONDS = 15.0  # after the last load, how long notes may still arrive
LAG_LIMITS = {"ZENDESK_UPDATES_PER_MINUTE": "300", "ZENDESK_REQUESTS_PER_MINUTE": "2500"}
TARGETS = {"ratio": 0.75, "p99_ms": 50.0, "lag_p95_s": 2.0}
IDLE_SETTLE_SECONDS = 3.0
CATCH_UP_LIMIT = 120.0  # how long the bench waits, after a throughput run, for the courier to store everything
_LOG_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")


def requester_of(ticket: int) -> int:
    """The requester the stand-in's ticket has (so verification passes)."""
    return 500000 + ticket


BENCH_TRACKING_KEY = "bench-only-signing-key-" + "x" * 20  # a test key: the bench talks to 127.0.0.1 only


def link_path(ticket: int) -> str:
    """A signed tracking link's pixel for the same reply (the /o/ route)."""
    tracker = Tracker("http://127.0.0.1", (BENCH_TRACKING_KEY,))
    meta = {"ticket_id": ticket, "comment_id": 900000 + ticket}
    return tracker.open_url(meta).removeprefix("http://127.0.0.1")


def pixel_path(ticket: int) -> str:
    """The pixel URL a Zendesk trigger would put in a reply to this ticket."""
    return f"/pixel.gif?ticket_id={ticket}&requester_id={requester_of(ticket)}&comment_id={900000 + ticket}"


@dataclass
class Run:
    """One server's figures under one load."""

    kind: str
    backend: str
    load: loadgen.LoadResult
    rss_mib: list[float]
    stop_seconds: float
    stored: int | None = None  # opens written during the measured load (app only)
    untriaged: int | None = None  # opens the couriers had not looked at when the load ended
    catch_up_seconds: float | None = None  # after the load, until every open served was stored and triaged
    courier_rss_mib: list[float] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Serving:
    """A running gunicorn, its store and the Zendesk stand-in it talks to."""

    server: servers.Gunicorn
    store: backends.SQLiteStore | backends.PostgreSQLStore
    zendesk: ZendeskStandIn


@dataclass
class Bench:
    """What every phase shares: options, temp dir, the load generator, the command to run."""

    args: argparse.Namespace
    tmp: Path
    load: loadgen.WrkLoad | loadgen.PythonLoad
    web_command: str
    started: int = 0

    @contextmanager
    def serving(
        self, kind: str, backend: str = "sqlite", extra_env: dict[str, str] | None = None, delay: float = 0.0
    ) -> Iterator[Serving]:
        """Run a gunicorn (app or bare) with a fresh store and a fresh Zendesk stand-in."""
        # Fresh per run: the stand-in enforces Zendesk's rate limits, which one run's notes must not spend
        # for the next, and each fresh database has its own budgets, blind to the other runs'.
        self.started += 1
        rundir = self.tmp / f"{self.started:02d}-{kind}"
        rundir.mkdir()
        store = backends.make_store(backend if kind == "app" else "sqlite", rundir)
        port = servers.free_port()
        command = self.web_command if kind == "app" else servers.bare_command(self.web_command)
        try:
            with standin() as zendesk:
                zendesk.delay = delay
                env = service_env(port, self.args.workers, store.url, rundir / "spool", zendesk, extra_env or {})
                with servers.Gunicorn(command, env, port, self.args.workers, rundir / "gunicorn.log") as server:
                    yield Serving(server, store, zendesk)
        finally:
            store.drop()


def service_env(
    port: int, workers: int, database_url: str, spool_dir: Path, zendesk: ZendeskStandIn, extra: dict[str, str]
) -> dict[str, str]:
    """The environment a Procfile host would give: ours, minus any setting inherited from this shell."""
    inherited = {s.name for s in config.SETTINGS} | {"GUNICORN_CMD_ARGS"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env.update(
        PATH=f"{servers.VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        DATABASE_URL=database_url,
        SPOOL_DIR=str(spool_dir),
        TRACKING_KEYS=BENCH_TRACKING_KEY,
        **zendesk.env(),
        **extra,
    )
    return env


# -- phase 1: throughput ---------------------------------------------------------


def throughput_phase(bench: Bench) -> list[Run]:
    """Alternate bare and app runs (one per backend), so machine noise hits all alike."""
    runs = []
    for pair in range(bench.args.pairs):
        for kind, backend in [("bare", "sqlite"), *(("app", b) for b in bench.args.database)]:
            run = throughput_run(bench, kind, backend)
            runs.append(run)
            label = kind if kind == "bare" else f"app on {run.backend}"
            print(f"  round {pair + 1} {label:18}: {run.load.rate:8.0f} req/s", flush=True)
    return runs


def throughput_run(bench: Bench, kind: str, backend: str) -> Run:
    """Saturate one fresh server for --seconds and record what it did."""
    with bench.serving(kind, backend) as serving:
        server, store = serving.server, serving.store
        warm = bench.load.run(server.port, bench.args.connections, WARMUP_SECONDS)
        before = store.counts() if kind == "app" else None
        result = bench.load.run(server.port, bench.args.connections, bench.args.seconds)
        after = store.counts() if kind == "app" else None
        rss, courier_rss = server.worker_rss_mib(), server.courier_rss_mib()
        caught_up = catch_up(store, warm.requests + result.requests) if kind == "app" else None
    run = Run(kind, store.name, result, rss, server.stop_seconds, log_problems=log_problems(server.log_path))
    run.catch_up_seconds, run.courier_rss_mib = caught_up, courier_rss
    if before and after:
        run.stored, run.untriaged = after[0] - before[0], after[1]
    return run


def catch_up(store, served: int) -> float | None:
    """Seconds until every open served is stored and triaged (None if not within CATCH_UP_LIMIT seconds)."""
    began = time.monotonic()
    while time.monotonic() - began < CATCH_UP_LIMIT:
        counts = store.counts()
        if counts and counts[0] >= served and counts[1] == 0:
            return time.monotonic() - began
        time.sleep(0.2)
    return None


def log_problems(log_path: Path) -> list[str]:
    """Return the warning and error lines a server logged."""
    try:
        return [line for line in log_path.read_text(errors="replace").splitlines() if _LOG_PROBLEM.search(line)]
    except OSError:
        return []


# -- phase 2: latency while Zendesk is slow --------------------------------------------


def latency_phase(bench: Bench, backend: str) -> tuple[Run, int]:
    """Load the app with --connections clients while every Zendesk answer takes 2 s."""
    with bench.serving("app", backend, delay=SLOW_ZENDESK_SECONDS) as serving:
        server = serving.server
        bench.load.run(server.port, bench.args.connections, WARMUP_SECONDS)
        result = bench.load.run(server.port, bench.args.connections, bench.args.latency_seconds)
        rss = server.worker_rss_mib()
        calls = serving.zendesk.count_calls()
    run = Run("app", serving.store.name, result, rss, server.stop_seconds, log_problems=log_problems(server.log_path))
    return run, calls


# -- phase 3: delivery lag with a healthy Zendesk ---------------------------------------


def lag_phase(bench: Bench, backend: str) -> tuple[list[float], Run]:
    """Load each lag ticket once, spaced out, and time each note's arrival at the stand-in."""
    with bench.serving("app", backend, LAG_LIMITS) as serving:
        server = serving.server
        sent, latencies = send_spaced_loads(server.port)
        notes = wait_for_notes(serving.zendesk, LAG_TICKETS, time.monotonic() + LAG_WAIT_SECONDS)
        rss = server.worker_rss_mib()
    lags = sorted(notes[t] - sent[t] for t in LAG_TICKETS if t in notes)
    latencies.sort()
    load = loadgen.LoadResult(
        requests=len(latencies),
        seconds=len(LAG_TICKETS) / LAG_LOADS_PER_SECOND,
        errors=len(LAG_TICKETS) - len(latencies),
        p50_ms=loadgen.percentile(latencies, 50),
        p99_ms=loadgen.percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else 0.0,
    )
    return lags, Run("app", serving.store.name, load, rss, server.stop_seconds, log_problems(server.log_path))


def send_spaced_loads(port: int) -> tuple[dict[int, float], list[float]]:
    """Load one pixel per lag ticket at a steady pace; return when each was sent, and latencies in ms."""
    sent: dict[int, float] = {}
    latencies: list[float] = []
    start = time.monotonic()
    for i, ticket in enumerate(LAG_TICKETS):
        # A fixed schedule, so slow answers do not stretch the spacing.
        time.sleep(max(0.0, start + i / LAG_LOADS_PER_SECOND - time.monotonic()))
        sent[ticket] = time.time()  # wall clock: the stand-in stamps notes with time.time()
        began = time.monotonic()
        try:
            status = servers.get(port, pixel_path(ticket))[0]
        except OSError:
            continue
        if status == 200:
            latencies.append((time.monotonic() - began) * 1000)
    return sent, latencies


def wait_for_notes(zendesk: ZendeskStandIn, tickets: range, deadline: float) -> dict[int, float]:
    """Wait until each ticket has a note (or the deadline); return each first note's arrival time."""
    while True:
        firsts = {}
        for comment in list(zendesk.comments):
            if comment.ticket_id in tickets:
                firsts.setdefault(comment.ticket_id, comment.at)
        if len(firsts) == len(tickets) or time.monotonic() > deadline:
            return firsts
        time.sleep(0.05)


# -- phase 4: an idle service ----------------------------------------------------------


def idle_phase(bench: Bench, backend: str) -> float:
    """Return the CPU the whole service (master, workers, courier) uses per second while nothing happens, in ms."""
    with bench.serving("app", backend) as serving:
        server = serving.server
        time.sleep(IDLE_SETTLE_SECONDS)  # start-up work (first rounds, clean-up) is not idleness
        pids = [server.proc.pid, *server.worker_pids(), *server.courier_pids()]
        before = servers.cpu_seconds(pids)
        time.sleep(bench.args.idle_seconds)
        used = servers.cpu_seconds(pids) - before
    return used / bench.args.idle_seconds * 1000


# -- checks and the report ---------------------------------------------------------------


def same_answer(bench: Bench) -> bool:
    """Check that the bare app and the service answer the same bytes and pixel headers."""
    answers = []
    for kind in ("bare", "app"):
        with bench.serving(kind) as serving:
            status, headers, body = servers.get(serving.server.port, "/pixel.gif")
        answers.append((status, body, {k: headers.get(k) for k in pixel.HEADERS}))
    return answers[0] == answers[1] == (200, pixel.GIF, pixel.HEADERS)


def machine() -> str:
    """Describe the machine, the tools and how busy it was at the start."""
    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), "?")
    load1 = os.getloadavg()[0]
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({cpu}), Python {platform.python_version()}, "
        f"gunicorn {version('gunicorn')}, Flask {version('flask')}, SQLAlchemy {version('sqlalchemy')}, "
        f"client {loadgen.wrk_version() or 'python threads'}, load average at start {load1:.2f}"
    )


def _cpuinfo() -> list[str]:
    """Lines of /proc/cpuinfo, or none."""
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


@dataclass
class Figures:
    """What the phases measured on one backend."""

    slow: tuple[Run, int]
    lag: tuple[list[float], Run]
    idle_ms: float


def report(bench: Bench, runs: list[Run], figures: dict[str, Figures], same: bool) -> bool:
    """Print the figures table; return whether every target was met."""
    bare = [r for r in runs if r.kind == "bare"]
    bare_rate = statistics.median(r.load.rate for r in bare)
    rows = [("pixel throughput, bare WSGI (median)", f"{bare_rate:,.0f} req/s", "", None)]
    for backend, measured in figures.items():
        app = [r for r in runs if r.kind == "app" and r.backend == _name(backend)]
        rows += _backend_rows(bench, _name(backend), bare, app, measured)
    rows.append(("bare worker RSS after throughput load", _mib(bare[-1].rss_mib), "", None))
    print()
    _table(["metric", "measured", "target", "met"], [(m, v, t, _verdict(ok)) for m, v, t, ok in rows])
    print()
    _details(bench, runs, figures, same)
    return all(ok for *_rest, ok in rows if ok is not None)


def _backend_rows(bench: Bench, name: str, bare: list[Run], app: list[Run], measured: Figures) -> list[tuple]:
    """The table's rows for the app on one backend."""
    bare_rate = statistics.median(r.load.rate for r in bare)
    app_rate = statistics.median(r.load.rate for r in app)
    ratio = app_rate / bare_rate if bare_rate else 0.0
    pair_ratio = statistics.median(a.load.rate / b.load.rate for a, b in zip(app, bare, strict=True))
    slow_run, _calls = measured.slow
    lags, lag_run = measured.lag
    lag_p95 = loadgen.percentile(lags, 95)
    lag_p95_all = lag_p95 if len(lags) == len(LAG_TICKETS) else float("inf")  # a missing note is a miss
    clients = bench.args.connections
    all_caught_up = all(r.catch_up_seconds is not None for r in app)
    return [
        (f"[{name}] pixel throughput, app (median)", f"{app_rate:,.0f} req/s", "", None),
        (f"[{name}] ratio app / bare (of medians)", f"{ratio:.2f}", ">= 0.75", ratio >= TARGETS["ratio"]),
        (f"[{name}] ratio app / bare (median of pairs)", f"{pair_ratio:.2f}", "", None),
        (
            f"[{name}] latency p99 at saturation (median)",
            f"{statistics.median(r.load.p99_ms for r in app):.1f} ms",
            "",
            None,
        ),
        (f"[{name}] latency p50, {clients} clients, Zendesk 2 s", f"{slow_run.load.p50_ms:.1f} ms", "", None),
        (
            f"[{name}] latency p99, {clients} clients, Zendesk 2 s",
            f"{slow_run.load.p99_ms:.1f} ms",
            "< 50 ms",
            slow_run.load.p99_ms < TARGETS["p99_ms"],
        ),
        (f"[{name}] delivery lag p50", f"{loadgen.percentile(lags, 50):.3f} s", "", None),
        (f"[{name}] delivery lag p95", f"{lag_p95:.3f} s", "< 2 s", lag_p95_all < TARGETS["lag_p95_s"]),
        (f"[{name}] notes delivered", f"{len(lags)} / {len(LAG_TICKETS)}", "all", len(lags) == len(LAG_TICKETS)),
        (f"[{name}] courier caught up after each throughput run", _catch_ups(app), "all", all_caught_up),
        (
            f"[{name}] idle CPU, master + {bench.args.workers} workers + courier",
            f"{measured.idle_ms:.1f} ms/s",
            "",
            None,
        ),
        (f"[{name}] worker RSS after throughput load", _mib(app[-1].rss_mib), "", None),
        (f"[{name}] courier process RSS after throughput load", _mib(app[-1].courier_rss_mib), "", None),
        (f"[{name}] worker RSS after slow-Zendesk load", _mib(slow_run.rss_mib), "", None),
        (f"[{name}] worker RSS after delivery-lag load", _mib(lag_run.rss_mib), "", None),
    ]


def _catch_ups(runs: list[Run]) -> str:
    """The catch-up time of each run, in seconds."""
    return ", ".join("none" if r.catch_up_seconds is None else f"{r.catch_up_seconds:.1f} s" for r in runs)


def _name(backend: str) -> str:
    """The short name of a --database value."""
    return "sqlite" if backend == "sqlite" else "postgresql"


def _details(bench: Bench, runs: list[Run], figures: dict[str, Figures], same: bool) -> None:
    """Print the per-run figures behind the medians and what the logs said."""
    print("runs, in order:", " ".join(f"{r.kind}/{r.backend}={r.load.rate:,.0f}" for r in runs))
    for run in (r for r in runs if r.kind == "app"):
        print(
            f"  app run on {run.backend}: {run.load.requests} pixels served, {run.stored} opens stored, "
            f"{run.untriaged} still untriaged at the end; p50 {run.load.p50_ms:.1f} ms, p99 {run.load.p99_ms:.1f} ms; "
            f"errors {run.load.errors}; graceful stop {run.stop_seconds:.1f} s"
        )
    problems = [line for run in runs if run.kind == "app" for line in run.log_problems]
    for backend, measured in figures.items():
        (slow_run, calls), (_lags, lag_run) = measured.slow, measured.lag
        print(
            f"slow Zendesk on {_name(backend)}: {slow_run.load.requests} pixels in {slow_run.load.seconds:.1f} s "
            f"({slow_run.load.rate:,.0f} req/s), max {slow_run.load.max_ms:.1f} ms, errors {slow_run.load.errors}, "
            f"{calls} Zendesk calls answered (2 s each), graceful stop {slow_run.stop_seconds:.1f} s"
        )
        print(
            f"delivery-lag loads on {_name(backend)}: p50 {lag_run.load.p50_ms:.1f} ms, max {lag_run.load.max_ms:.1f} ms"
        )
        problems += slow_run.log_problems + lag_run.log_problems
    print(f"bare and app answer the same bytes and pixel headers: {'yes' if same else 'NO'}")
    print(f"warning/error lines logged by the app servers: {len(problems)}")
    for line in problems[:5]:
        print(f"  {line[:200]}")
    print(f"load generator: {bench.load.name}")


def _mib(values: list[float]) -> str:
    """Format RSS figures."""
    return ", ".join(f"{v:.1f}" for v in values) + " MiB" if values else "?"


def _verdict(ok: bool | None) -> str:
    """Say whether a target was met."""
    return "" if ok is None else ("yes" if ok else "NO")


def _table(header: list[str], rows: list[tuple[str, ...]]) -> None:
    """Print an aligned text table."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# -- running it ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run (default 5)")
    parser.add_argument("--pairs", type=int, default=3, help="bare/app throughput run pairs (default 3)")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="slow-Zendesk load length (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (default 2)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto", help="load generator")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU measurement (default 10)")
    parser.add_argument(
        "--database",
        action="append",
        help="sqlite, or a postgresql:// URL of a server to make a database per run on; repeatable "
        "(default: sqlite, and TEST_DATABASE_URL's server when it is set)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--route", choices=("pixel", "link"), default="pixel", help="load /pixel.gif or signed /o/<token>.gif links"
    )
    args = parser.parse_args()
    if not args.database:
        args.database = ["sqlite", *filter(None, [os.environ.get("TEST_DATABASE_URL")])]
    return args


def pick_load(choice: str, tmp: Path, route: str) -> loadgen.WrkLoad | loadgen.PythonLoad:
    """Use wrk when present (or required), else Python threads."""
    paths = [(link_path if route == "link" else pixel_path)(t) for t in LOAD_TICKETS]
    has_wrk = loadgen.wrk_version() is not None
    if choice == "wrk" and not has_wrk:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (or use --client python)")
    if choice == "python" or not has_wrk:
        if choice == "auto":
            print("wrk not found (apt-get install -y wrk): falling back to Python threads", file=sys.stderr)
        return loadgen.PythonLoad(paths)
    return loadgen.WrkLoad(paths, tmp)


@contextmanager
def standin() -> Iterator[ZendeskStandIn]:
    """Run the Zendesk stand-in with every ticket the loads name."""
    zendesk = ZendeskStandIn().start()
    for ticket in [*LOAD_TICKETS, *LAG_TICKETS]:
        zendesk.add_ticket(ticket, requester_of(ticket), replies=[900000 + ticket])  # the reply the loads name
    try:
        yield zendesk
    finally:
        zendesk.stop()


def phase(title: str, step: Callable[[], object]) -> object:
    """Run one phase, saying how long it took."""
    print(f"{title} ...", flush=True)
    began = time.monotonic()
    result = step()
    print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
    return result


def measure_backend(bench: Bench, backend: str) -> Figures:
    """Run the latency, delivery-lag and idle phases on one backend."""
    name = _name(backend)
    slow = phase(
        f"[{name}] latency: Zendesk answers in {SLOW_ZENDESK_SECONDS:g} s", lambda: latency_phase(bench, backend)
    )
    lag = phase(
        f"[{name}] delivery lag: {len(LAG_TICKETS)} first opens, {LAG_LOADS_PER_SECOND:g} per second",
        lambda: lag_phase(bench, backend),
    )
    idle = phase(f"[{name}] idle CPU over {bench.args.idle_seconds:g} s", lambda: idle_phase(bench, backend))
    return Figures(slow, lag, idle)


def main() -> int:
    """Run every phase and print the table."""
    args = parse_args()
    # A plain `kill` of the bench must still stop its gunicorns and remove its files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    web_command = servers.loopback_only(servers.procfile_web_command())
    print(f"date {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine()}")
    print(f"web: {web_command}  (workers {args.workers}, {args.connections} clients, route {args.route})", flush=True)
    print(f"stores: {', '.join(_name(b) for b in args.database)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="pixel-bench-") as tmp:
        bench = Bench(args, Path(tmp), pick_load(args.client, Path(tmp), args.route), web_command)
        same = phase("checking both servers answer alike", lambda: same_answer(bench))
        runs = phase(f"throughput: {args.pairs} rounds x {args.seconds:g} s", lambda: throughput_phase(bench))
        figures = {backend: measure_backend(bench, backend) for backend in args.database}
        met = report(bench, runs, figures, same)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
