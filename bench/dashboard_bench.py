"""The dashboard's pages and the API with a million stored opens: how long each takes to answer.

Seeds a SQLite store with --opens pixel loads over --days days and 100,000 replies (one in ten from a machine),
the reply webhook's record of each reply (40 agents, and 10,000 more replies nothing opened), lets the courier
triage them all as the service would, then times GET /dashboard, the opens page (filtered, searched by ticket),
a ticket's page, the replies page (filtered, paged, its CSV), the agents' replies and the API in process,
best and median of --requests:

    .venv/bin/python bench/dashboard_bench.py            # about two minutes for a million opens
    .venv/bin/python bench/dashboard_bench.py --days 365 # a year of them
    .venv/bin/python bench/dashboard_bench.py --days 365 --database-url postgresql://postgres@127.0.0.1:5432/bench
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

from sqlalchemy import func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from config import load_settings  # noqa: E402
from read_receipts.operations.startup import prepare_store  # noqa: E402
from read_receipts.store.schema import opens, replies_sent, reply_statuses  # noqa: E402

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


def main() -> None:
    """Seed, triage, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--database-url", default="", help="an empty store to seed instead of a new SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/dash.db"
        env = {"DATABASE_URL": url, "VERIFY_REQUESTER": "false", "ADMIN_USER": "lead", "SPOOL_DIR": f"{tmp}/spool"}
        settings = load_settings({**env, "ADMIN_PASSWORD": "correct horse battery"})
        prepare_store(settings)
        app = create_app(settings)
        store, courier = app.extensions["store"], app.extensions["courier"]
        began = time.perf_counter()
        seed_sent(store, time.time(), args.days)
        seed(store, args.opens, time.time(), args.days)
        print(f"seeded {args.opens:,} opens in {time.perf_counter() - began:.0f} s", flush=True)
        began = time.perf_counter()
        while courier.triage_opens(time.time()):
            pass
        with store.reading() as conn:
            left = conn.execute(select(func.count()).where(opens.c.state == "new")).scalar_one()
        print(f"triaged in {time.perf_counter() - began:.0f} s ({left} left)", flush=True)
        client = app.test_client()
        paths = ["/dashboard", "/dashboard?from=2026-01-01&to=2026-12-31", "/api/summary"]
        paths += ["/api/summary?from=2026-01-01&to=2026-12-31"]  # the year page's figures without the page
        paths += ["/dashboard/opens", "/dashboard/opens?kind=bot", "/dashboard/opens?client=Gmail&state=counted"]
        paths += ["/dashboard/opens?ticket_id=1000042", "/dashboard/tickets/1000042", "/api/opens?limit=1000"]
        year = f"from={time.strftime('%Y-%m-%d', time.gmtime(time.time() - 364 * 86400))}"
        paths += ["/dashboard/replies", "/dashboard/replies?status=read", "/dashboard/replies?agent_id=9007"]
        paths += ["/dashboard/replies?status=preloaded&agent_id=9007", "/dashboard/replies?ticket_id=1000042"]
        paths += [f"/dashboard/replies?{year}&status=machines", "/dashboard/replies.csv?agent_id=9007"]
        paths += ["/dashboard/agents-replies", f"/dashboard/agents-replies?{year}", "/api/replies?limit=1000"]
        for path in paths:
            times = timed(client, path, args.requests)
            print(
                f"{path:<55} best {min(times):6.1f} ms   median {statistics.median(times):6.1f} ms   worst {max(times):6.1f} ms"
            )


if __name__ == "__main__":
    main()
