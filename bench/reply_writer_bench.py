"""What the reply statuses' writer costs: loaded() batches and sent() calls on a store of 110,000 statuses.

CPU seconds of this process (SQLite runs in it), so other work on the machine weighs less. Run it against
another checkout with --root to compare two versions of the writer, interleaved:

    .venv/bin/python bench/reply_writer_bench.py --spread 2000      # 10 loads a reply
    .venv/bin/python bench/reply_writer_bench.py --spread 110000    # nearly each load a reply's first read
    .venv/bin/python bench/reply_writer_bench.py --root /tmp/before --spread 2000
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

STATUSES, BATCHES, BATCH, CALLS = 110_000, 40, 500, 2_000
KINDS = ["person"] * 8 + ["apple_preload", "scanner"]


def main() -> None:
    """Fill a store with statuses, then time the writer's two entry points."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="the code to measure")
    parser.add_argument("--spread", type=int, default=2_000, help="how many replies the loads fall on")
    parser.add_argument("--database-url", default="", help="default: a SQLite file in /dev/shm (no disk waits)")
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    from sqlalchemy import create_engine, insert

    from read_receipts.store.reply_statuses import Load, loaded, sent
    from read_receipts.store.schema import reply_statuses
    from read_receipts.store.upgrade import upgrade

    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    engine = create_engine(args.database_url or f"sqlite:///{tempfile.mkdtemp(dir=shm)}/writer.db")
    upgrade(engine)
    now = time.time()
    with engine.begin() as conn:
        rows = [_status(r, now) for r in range(STATUSES)]
        for start in range(0, STATUSES, 20_000):
            conn.execute(insert(reply_statuses), rows[start : start + 20_000])
    chosen = random.Random(7)
    began = time.process_time()
    for _ in range(BATCHES):
        picks = [chosen.randrange(args.spread) for _ in range(BATCH)]
        loads = [Load(*_key(r), now - chosen.random() * 1e6, chosen.choice(KINDS), "Gmail", None) for r in picks]
        with engine.begin() as conn:
            loaded(conn, loads)
    took_loads = time.process_time() - began
    began = time.process_time()
    with engine.begin() as conn:
        for r in range(0, STATUSES, STATUSES // CALLS):
            sent(conn, *_key(r), _status(r, now)["seen_at"] - 60, 9000 + r % 40, "Agent")
    took_sent = time.process_time() - began
    print(
        f"{args.root}: loaded() {took_loads:.2f} s for {BATCHES * BATCH:,} loads on {args.spread:,} replies, "
        f"sent() {took_sent:.2f} s for {CALLS:,} calls"
    )


def _key(reply: int) -> tuple[int, int]:
    return 1_000_000 + reply // 3, 5_000_000 + reply


def _status(reply: int, now: float) -> dict:
    """A reply the webhook reported, not opened yet, over the last year."""
    at = now - 365 * 86400 + reply * 286
    ticket_id, key = _key(reply)
    return {
        "ticket_id": ticket_id,
        "reply_key": key,
        "status": "not_opened",
        "seen_at": at,
        "sent_at": at,
        "agent_id": 9000 + reply % 40,
        "agent_name": "Agent",
    }


if __name__ == "__main__":
    main()
