"""What the opt-out check costs the pixel: CPU per request through PixelRoute, with and without it.

The pixel looks up the requester in the instance's copy of the opt-out list (a
file, looked at once a second), never in the database. This times the pixel's
WSGI answer, spool append included, in one process both ways, alternating
rounds (best of several, process CPU time, because the machine is shared), with
a copy listing 10,000 requesters and loads of requesters not on it (the common
case) and on it:

    .venv/bin/python bench/opt_out_bench.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from read_receipts.intake import pixel  # noqa: E402
from read_receipts.intake.opt_out_copy import COPY_NAME  # noqa: E402
from read_receipts.intake.spool import Spool  # noqa: E402

LISTED = 10_000


def _environ(requester_id: int) -> dict:
    """A mail client's pixel load."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": pixel.PATH,
        "QUERY_STRING": f"ticket_id=42&requester_id={requester_id}&comment_id=9001&sent=2026-11-23T10:00Z",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
    }


def per_request_us(route: pixel.PixelRoute, environ: dict, requests: int) -> float:
    """Answer `requests` loads; microseconds of CPU per request."""
    start_response = lambda status, headers: None  # noqa: E731
    started = time.process_time()
    for _ in range(requests):
        route(environ, start_response)
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="loads per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each (best is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / COPY_NAME).write_text("".join(f"{1_000_000 + i}\n" for i in range(LISTED)))
        spool = Spool(tmp)
        plain = pixel.PixelRoute(None, lambda values: spool.append("o", values), lambda *_: None)
        checked = pixel.PixelRoute(None, pixel.spooler(spool), lambda *_: None)
        cases = {"not listed": _environ(7), "listed": _environ(1_000_000 + LISTED // 2)}
        best: dict[tuple[str, str], float] = {}
        for _ in range(args.rounds):
            for case, environ in cases.items():
                for name, route in (("without the check", plain), ("with the check", checked)):
                    cost = per_request_us(route, environ, args.requests)
                    best[(case, name)] = min(cost, best.get((case, name), cost))
        spool.close()
    print("| load of a requester | without the check | with the check | ratio |")
    print("| --- | --- | --- | --- |")
    for case in cases:
        before, after = best[(case, "without the check")], best[(case, "with the check")]
        print(f"| {case} | {before:.1f} us | {after:.1f} us | {after / before:.3f} |")


if __name__ == "__main__":
    main()
