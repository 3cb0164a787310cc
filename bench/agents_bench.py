"""What learned agent addresses cost triage: the courier's CPU per open with learning on (and addresses learned) and off.

Triage asks, for every open, whether its address is a learned agent address: a set lookup in a copy of the
applied addresses that each process reads again every few seconds. This times the courier settling the same
opens both ways, in one run, alternating, best of several rounds (process CPU time, as classify_bench.py):

    .venv/bin/python bench/agents_bench.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from config import load_settings  # noqa: E402
from read_receipts.operations.startup import prepare_store  # noqa: E402
from read_receipts.store import agent_addresses as addresses  # noqa: E402
from tests.conftest import THUNDERBIRD_AGENT, drain  # noqa: E402


def per_open_us(learning: bool, opens: int, learned: int) -> float:
    """Store `opens` loads from 200 addresses, `learned` agent addresses learned; time the courier; us per open."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": f"sqlite:///{tmp}/b.db", "VERIFY_REQUESTER": "false"}
        settings = load_settings({**env, "AGENT_LEARNING": "true" if learning else "false"})
        prepare_store(settings)
        app = create_app(settings)
        store, courier = app.extensions["store"], app.extensions["courier"]
        for n in range(learned):  # none of them an address the opens come from: the same notes both ways
            addresses.learn(store, f"198.51.{n // 250}.{n % 250}", n, time.time(), 30, "full")
        for i in range(opens):
            values = {"ticket_id": i % 40 + 1, "requester_id": 7, "comment_id": 1, "opened_at": time.time()}
            store.opens.record({**values, "ip": f"203.0.113.{i % 200}", "user_agent": THUNDERBIRD_AGENT, "sent": None})
        started = time.process_time()
        drain(courier, rounds=10_000)
        elapsed = time.process_time() - started
        courier.stop()
        store.close()
    return elapsed / opens * 1e6


def main() -> None:
    """Print the courier's cost per open with learning off and on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--learned", type=int, default=200)
    args = parser.parse_args()
    off, on = [], []
    for _ in range(args.rounds):
        off.append(per_open_us(False, args.opens, args.learned))
        on.append(per_open_us(True, args.opens, args.learned))
    off_best, on_best = min(off), min(on)
    print(
        f"{args.opens} opens, {args.learned} learned addresses: learning off {off_best:.1f} us/open, "
        f"on {on_best:.1f} us/open, ratio on/off {on_best / off_best:.3f}"
    )


if __name__ == "__main__":
    main()
