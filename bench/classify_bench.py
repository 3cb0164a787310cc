"""What labelling opens costs: the courier's CPU per open with the real classifier and with a fixed label.

Classification runs in the courier process, after the pixel has answered, so it can only slow the pixel
by taking CPU from the same machine. This measures that CPU per open, in one process, both ways, in the
same run (best of several rounds, fixed and classified alternating, because the machine is shared). It
counts the process's CPU time, not wall time: the SQLite commits wait on the disk, and that wait moved
the wall-clock figures by tens of microseconds per open between runs.

ua-parser builds its parser on the first string it parses (about 0.1 s, once per process), and the
maintained lists (machines' and people's clients') are built on first use; the benchmark pays that before
timing and prints it apart, since it is not a cost per open. Verdicts are cached per User-Agent string, so it also times what
a string never seen before costs (what a sender of unique User-Agents makes the courier pay), and the
worst case over a set of hostile strings built against each pattern (tests/hostile_agents.py), each
timed with every verdict cache emptied, beside a Thunderbird string timed the same way:

    .venv/bin/python bench/classify_bench.py
    .venv/bin/python bench/classify_bench.py --hostile-only   # only the hostile strings
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ua_parser  # noqa: E402

from app import create_app  # noqa: E402
from config import load_settings  # noqa: E402
from read_receipts.labels import openers  # noqa: E402
from read_receipts.labels.openers import Opener  # noqa: E402
from read_receipts.operations.startup import prepare_store  # noqa: E402
from tests.conftest import drain  # noqa: E402
from tests.hostile_agents import hostile_agents  # noqa: E402

AGENTS = [row["user_agent"] for row in csv.DictReader((ROOT / "tests/data/user_agents.tsv").open(), delimiter="\t")]


class FixedLabel:
    """A classifier that always answers the same: the baseline."""

    def classify(self, user_agent, ip, seconds_after_send=None) -> Opener:
        return Opener("Thunderbird", "person")


def per_open_us(classifier, opens: int, distinct_agents: int) -> float:
    """Store `opens` loads over 40 tickets, then time the courier settling them; microseconds per open."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp}/b.db", "VERIFY_REQUESTER": "false"})
        prepare_store(settings)
        app = create_app(settings)
        store, courier = app.extensions["store"], app.extensions["courier"]
        if classifier is not None:
            courier.classifier = classifier
        for i in range(opens):
            agent = AGENTS[i % distinct_agents]
            values = {"ticket_id": i % 40 + 1, "requester_id": 7, "comment_id": 1, "opened_at": time.time()}
            store.opens.record(
                {**values, "ip": f"203.0.113.{i % 200}", "user_agent": agent, "sent": "2026-11-23T10:00Z"}
            )
        started = time.process_time()
        drain(courier, rounds=10_000)
        elapsed = time.process_time() - started
        courier.stop()
        store.close()
    return elapsed / opens * 1e6


def per_new_agent_us(count: int, round_number: int) -> float:
    """Classify `count` User-Agents never seen before (the table's, each made unique); microseconds of CPU each."""
    classifier = openers.Classifier(openers.AddressRanges([]), openers.AddressRanges([]))
    agents = [f"{AGENTS[i % len(AGENTS)]} r{round_number}.{i}" for i in range(count)]  # unique in every round
    started = time.process_time()
    for agent in agents:
        classifier.classify(agent, "203.0.113.9")
    return (time.process_time() - started) / count * 1e6


def _forget_verdicts() -> None:
    """Empty every verdict cache of the labels, ua-parser's included."""
    for name in dir(openers):
        cached = getattr(openers, name)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def uncached_us(classifier, agent: str, rounds: int) -> float:
    """The least CPU time, over `rounds`, that labelling one string costs with no cache; microseconds."""
    best = float("inf")
    for _ in range(rounds):
        _forget_verdicts()
        started = time.process_time_ns()
        classifier.classify(agent, "203.0.113.9")
        best = min(best, (time.process_time_ns() - started) / 1000)
    return best


def hostile_report(rounds: int) -> None:
    """Print the worst hostile string's cost beside a Thunderbird string's, both without caches."""
    ua_parser.parser = ua_parser.Parser(ua_parser.parser.resolver.parser)  # no cache in ua-parser either
    classifier = openers.Classifier(openers.AddressRanges([]), openers.AddressRanges([]))
    baseline = uncached_us(classifier, THUNDERBIRD, rounds)
    costs = sorted(((uncached_us(classifier, agent, rounds), agent) for agent in hostile_agents()), reverse=True)
    worst, agent = costs[0]
    print(f"Thunderbird, no cache: {baseline:.0f} us; {len(costs)} hostile User-Agents, no cache (best of {rounds}):")
    print(f"  worst {worst:.0f} us ({worst / baseline:.1f}x Thunderbird), median {costs[len(costs) // 2][0]:.0f} us")
    for cost, agent in costs[:5]:
        print(f"  {cost:6.0f} us  {len(agent):5} chars  {agent[:60]!r}")


THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"


def main() -> None:
    """Print the courier's cost per open with and without classification."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--new-agents", type=int, default=3000, help="unique User-Agents to time (default 3000)")
    parser.add_argument("--hostile-only", action="store_true", help="time only the hostile strings")
    args = parser.parse_args()
    started = time.process_time()
    openers.Classifier(openers.AddressRanges([]), openers.AddressRanges([])).classify("Mozilla/5.0 (X11)", None)
    print(f"first classification in a process (ua-parser builds its parser): {time.process_time() - started:.3f} s")
    started = time.process_time()
    openers._machine_lists()
    if hasattr(openers, "_client_lists"):  # the list of people's clients, where the code has one
        openers._client_lists()
    print(f"maintained lists built (once per process): {time.process_time() - started:.3f} s")
    if args.hostile_only:
        hostile_report(args.rounds)
        return
    for distinct in (1, len(AGENTS)):
        fixed, real = [], []
        for _ in range(args.rounds):
            fixed.append(per_open_us(FixedLabel(), args.opens, distinct))
            real.append(per_open_us(None, args.opens, distinct))
        fixed, real = min(fixed), min(real)
        print(
            f"{distinct:>3} distinct User-Agents, 200 addresses: fixed label {fixed:6.1f} us/open, "
            f"classified {real:6.1f} us/open, classification adds {real - fixed:5.1f} us/open"
        )
    new = min(per_new_agent_us(args.new_agents, n) for n in range(args.rounds))
    print(f"a User-Agent never seen before ({args.new_agents} of them, best of {args.rounds}): {new:.0f} us each")
    hostile_report(args.rounds)


if __name__ == "__main__":
    main()
