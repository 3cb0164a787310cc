"""The dashboard's pages and the API with a million stored opens: how long each takes to answer.

Seeds a SQLite store with --opens pixel loads over --days days and 100,000 replies (one in ten from a machine),
the reply webhook's record of each reply (40 agents, and 10,000 more replies nothing opened), lets the courier
triage them all as the service would, then times GET /dashboard, the opens page (filtered, searched by ticket),
a ticket's page, the replies page (filtered, paged, its CSV), the agents' replies and the API in process,
best, median and worst of --requests, and each page's best against the opens page's (the baseline).

With --database-url the pages read a PostgreSQL store instead: the SQLite store is built and triaged as above,
then every table the courier wrote is bulk-copied into the (empty) database, so both stores hold the same rows.
With --sqlite-file the SQLite store is kept there, and a later run with the same file and arguments reuses it:

    .venv/bin/python bench/dashboard_bench.py            # about two minutes for a million opens
    .venv/bin/python bench/dashboard_bench.py --days 365 --sqlite-file /tmp/year.db # a year of them, kept
    .venv/bin/python bench/dashboard_bench.py --days 365 --sqlite-file /tmp/year.db \
        --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from config import load_settings  # noqa: E402
from read_receipts.operations.startup import prepare_store  # noqa: E402
from read_receipts.store.schema import metadata, opens, replies_sent, reply_statuses  # noqa: E402

AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
    "curl/8.5.0",
]
LOGIN = {"Authorization": "Basic " + base64.b64encode(b"lead:correct horse battery").decode()}


REPLIES, UNOPENED, AGENT_COUNT = 100_000, 10_000, 40


def seed(store, count: int, now: float, days: int) -> None:
    """Write `count` opens over `days` days and 100,000 replies, in big batches."""
    batch = []
    for n in range(count):
        reply = n % REPLIES
        opened_at = now - days * 86400 + (n / count) * days * 86400
        sent = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(opened_at - 3600 * (1 + reply % 48)))
        batch.append(
            {
                "ticket_id": 1_000_000 + reply // 3,
                "requester_id": 7,
                "comment_id": 5_000_000 + reply,
                "opened_at": opened_at,
                "ip": f"203.0.{n % 250}.{n % 200}",
                "user_agent": AGENTS[n % len(AGENTS)],
                "sent": sent,
            }
        )
        if len(batch) == 20_000:
            _write(store, batch)
            batch = []
    if batch:
        _write(store, batch)


def seed_sent(store, now: float, days: int) -> None:
    """What the reply webhook records: each reply, its time and agent, before its opens are triaged."""
    rows = []
    for reply in range(REPLIES + UNOPENED):
        sent_at = now - days * 86400 + (reply / (REPLIES + UNOPENED)) * days * 86400 - 3600
        agent = 9_000 + reply % AGENT_COUNT
        ticket = 1_000_000 + reply // 3 if reply < REPLIES else 2_000_000 + reply
        key = 5_000_000 + reply
        row = {"ticket_id": ticket, "reply_key": key, "seen_at": sent_at, "sent_at": sent_at}
        rows.append({**row, "status": "not_opened", "agent_id": agent, "agent_name": f"Agent {agent}"})
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 20_000):
            part = rows[start : start + 20_000]
            conn.execute(insert(reply_statuses), part)
            conn.execute(insert(replies_sent), [{k: r[k] for k in ("ticket_id", "reply_key", "sent_at")} for r in part])


def _write(store, rows: list[dict]) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(opens), rows)


def timed(client, path: str, requests: int) -> list[float]:
    """Milliseconds per request."""
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=LOGIN)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


# Zendesk credentials, so loads count as in a real store (a dry run's never move a reply's status); with
# VERIFY_REQUESTER off triage never calls it, and the bench runs no delivery, so no note is sent anywhere.
ENV = {
    "VERIFY_REQUESTER": "false",
    "ZENDESK_URL": "http://127.0.0.1:9",
    "ZENDESK_EMAIL": "bench@example.com",
    "ZENDESK_API_TOKEN": "not-a-token",
    "ADMIN_USER": "lead",
    "ADMIN_PASSWORD": "correct horse battery",
}
NOT_COPIED = {"store_identity", "spool_segments"}  # each store's own identity and its spool's bookkeeping


def copied(source_url: str, target_url: str) -> int:
    """Copy every table the courier wrote from one store into another's empty tables (COPY); the rows copied."""
    source = create_engine(source_url)
    target = create_engine(target_url)
    tables = [table for table in metadata.sorted_tables if table.name not in NOT_COPIED]
    total = 0
    raw = target.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        cursor.execute(f"TRUNCATE {', '.join(table.name for table in tables)}")
        with source.connect() as conn:
            for table in tables:
                columns = ", ".join(column.name for column in table.columns)
                with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                    for row in conn.execute(select(table)).yield_per(20_000):
                        copy.write_row(tuple(row))
                        total += 1
        raw.commit()
    finally:
        raw.close()
    with target.begin() as conn:
        for table in tables:
            for column in table.primary_key.columns:
                if column.autoincrement is True:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                            f"coalesce(max({column.name}), 0) + 1, false) FROM {table.name}"
                        )
                    )
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have, after so many writes
    source.dispose()
    target.dispose()
    return total


def build(url: str, spool_dir: str, opens_wanted: int, days: int):
    """A store holding the seeded opens, triaged; reused when it already holds them; its app."""
    settings = load_settings({**ENV, "DATABASE_URL": url, "SPOOL_DIR": spool_dir})
    prepare_store(settings)
    app = create_app(settings)
    store, courier = app.extensions["store"], app.extensions["courier"]
    with store.reading() as conn:
        held = conn.execute(select(func.count()).select_from(opens)).scalar_one()
    if held == opens_wanted:
        print(f"reusing the {held:,} opens of {url}", flush=True)
        return app
    began = time.perf_counter()
    seed_sent(store, time.time(), days)
    seed(store, opens_wanted, time.time(), days)
    print(f"seeded {opens_wanted:,} opens in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    while courier.triage_opens(time.time()):
        pass
    with store.reading() as conn:
        left = conn.execute(select(func.count()).where(opens.c.state == "new")).scalar_one()
    print(f"triaged in {time.perf_counter() - began:.0f} s ({left} left)", flush=True)
    return app


def served(url: str, spool_dir: str):
    """The app on a store already filled."""
    settings = load_settings({**ENV, "DATABASE_URL": url, "SPOOL_DIR": spool_dir})
    prepare_store(settings)
    return create_app(settings)


def main() -> None:
    """Seed, triage, (copy,) measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--sqlite-file", default="", help="where to keep the SQLite store (reused if it is full)")
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database to copy the store into")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{args.sqlite_file or f'{tmp}/dash.db'}"
        app = build(sqlite_url, f"{tmp}/spool", args.opens, args.days)
        if args.database_url:
            app.extensions["store"].close()
            began = time.perf_counter()
            served(args.database_url, f"{tmp}/spool-pg").extensions["store"].close()  # the schema, made
            rows = copied(sqlite_url, args.database_url)
            print(f"copied {rows:,} rows into PostgreSQL in {time.perf_counter() - began:.0f} s", flush=True)
            app = served(args.database_url, f"{tmp}/spool-pg")
        measure(app.test_client(), args.requests)


def measure(client, requests: int) -> None:
    """Time each page; print best, median and worst, and the best against the opens page's."""
    paths = ["/dashboard/opens", "/dashboard", "/dashboard?from=2026-01-01&to=2026-12-31", "/api/summary"]
    paths += ["/api/summary?from=2026-01-01&to=2026-12-31"]  # the year page's figures without the page
    paths += ["/dashboard/opens?kind=bot", "/dashboard/opens?client=Gmail&state=counted"]
    paths += ["/dashboard/opens?ticket_id=1000042", "/dashboard/tickets/1000042", "/api/opens?limit=1000"]
    year = f"from={time.strftime('%Y-%m-%d', time.gmtime(time.time() - 364 * 86400))}"
    paths += ["/dashboard/replies", "/dashboard/replies?status=read", "/dashboard/replies?agent_id=9007"]
    paths += ["/dashboard/replies?status=preloaded&agent_id=9007", "/dashboard/replies?ticket_id=1000042"]
    paths += [f"/dashboard/replies?{year}&status=machines", "/dashboard/replies.csv?agent_id=9007"]
    paths += ["/dashboard/agents-replies", f"/dashboard/agents-replies?{year}", "/api/replies?limit=1000"]
    baseline = None
    for path in paths:
        times = timed(client, path, requests)
        baseline = baseline or min(times)
        print(
            f"{path:<55} best {min(times):6.1f} ms   median {statistics.median(times):6.1f} ms   "
            f"worst {max(times):6.1f} ms   {min(times) / baseline:5.1f} x baseline",
            flush=True,
        )


if __name__ == "__main__":
    main()
