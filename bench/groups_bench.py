"""The agents' page per group: `reply_board.groups` against `reply_board.agents` (the baseline) on a year of replies.

Run from the repository root, on an empty store (its schema is made at head):

    .venv/bin/python bench/groups_bench.py sqlite:////tmp/groups_bench.db
    .venv/bin/python bench/groups_bench.py postgresql://postgres@127.0.0.1:5432/groups_bench   # an empty database

110,000 replies over 365 days, 40 agents and 10 groups, written straight into `reply_statuses` (the tables'
figures read nothing else); on PostgreSQL the table is analysed before timing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from read_receipts.store import Stores, reply_board  # noqa: E402
from read_receipts.store.schema import reply_statuses  # noqa: E402
from read_receipts.store.upgrade import upgrade  # noqa: E402

STATUSES = ("read", "preloaded", "machines", "not_opened")


def fill(store: Stores, replies: int, now: float) -> None:
    """Write a year of replies: most read within a day, some preloaded or fetched by machines, some not opened."""
    rnd = random.Random(7)
    rows = []
    for i in range(replies):
        seen = now - rnd.uniform(0, 365 * 86400)
        status = rnd.choices(STATUSES, (80, 8, 4, 8))[0]
        delay = rnd.uniform(60, 86400) if status == "read" else None
        group = rnd.randrange(10)
        rows.append(
            {
                "ticket_id": i,
                "reply_key": i,
                "status": status,
                "seen_at": seen,
                "sent_at": seen,
                "first_read_at": seen + delay if delay else None,
                "reads": int(delay is not None),
                "agent_id": 9000 + rnd.randrange(40),
                "agent_name": "Agent",
                "read_after": delay,
                "group_id": 100 + group,
                "group_name": f"Group {group}",
            }
        )
    with store.engine.begin() as conn:
        conn.execute(insert(reply_statuses), rows)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE reply_statuses"))


def timed(call, repeats: int) -> list[float]:
    """Milliseconds of each of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--replies", type=int, default=110_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    store = Stores(args.database_url)
    upgrade(store.engine)
    now = time.time()
    fill(store, args.replies, now)
    year = (now - 366 * 86400, now + 1)
    agents = timed(lambda: reply_board.agents(store, *year), args.repeats)
    groups = timed(lambda: reply_board.groups(store, *year), args.repeats)
    for name, times in (("agents (baseline)", agents), ("groups", groups)):
        print(f"{name:18} best {min(times):8.1f} ms   median {statistics.median(times):8.1f} ms")
    print(f"ratio groups / agents (medians): {statistics.median(groups) / statistics.median(agents):.2f}")
    store.close()


if __name__ == "__main__":
    main()
