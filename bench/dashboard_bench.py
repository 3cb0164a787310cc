"""The dashboard's pages and the API with a million stored opens: how long each takes to answer.

Seeds a SQLite store with --opens pixel loads over 60 days and 100,000 replies (one in ten from a machine),
lets the courier triage them all as the service would, then times GET /dashboard, the opens page (filtered,
searched by ticket), a ticket's page and the API in process, best and median of --requests:

    .venv/bin/python bench/dashboard_bench.py            # about two minutes for a million opens
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
from read_receipts.store.schema import opens  # noqa: E402

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


def seed(store, count: int, now: float) -> None:
    """Write `count` opens over 60 days and 100,000 replies, in big batches."""
    batch = []
    for n in range(count):
        reply = n % 100_000
        opened_at = now - 60 * 86400 + (n / count) * 60 * 86400
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": f"sqlite:///{tmp}/dash.db", "VERIFY_REQUESTER": "false", "ADMIN_USER": "lead"}
        settings = load_settings({**env, "ADMIN_PASSWORD": "correct horse battery"})
        prepare_store(settings)
        app = create_app(settings)
        store, courier = app.extensions["store"], app.extensions["courier"]
        began = time.perf_counter()
        seed(store, args.opens, time.time())
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
        for path in paths:
            times = timed(client, path, args.requests)
            print(
                f"{path:<45} best {min(times):6.1f} ms   median {statistics.median(times):6.1f} ms   worst {max(times):6.1f} ms"
            )


if __name__ == "__main__":
    main()
