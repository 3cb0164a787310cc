"""Flood benchmark: how long genuine first opens wait while forged and made-up loads pour in.

Run from the repository root:

    .venv/bin/python bench/flood_bench.py            # about a minute and a half

The service is the Procfile's `web:` command (bound to 127.0.0.1, one proxy hop so each load names its
client address), with its default budgets; Zendesk is tests/zendesk_standin.py holding the account to 100
requests a minute. While 10,000 forged loads (`ticket_id={i}0000777`, one address) and 2,000 made-up
reply ids (`ticket_id=101&comment_id={i}123`, the real requester, another address) arrive, one genuine
first open of a ticket not seen before comes every 2 s, each from its own network. Printed: the genuine
opens' lag from load to note (p50, p95, max), the notes the made-up ids made, and the checks spent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import servers

sys.path.insert(0, str(servers.ROOT))

import config  # noqa: E402
from tests.zendesk_standin import ZendeskStandIn  # noqa: E402

THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"
SPAM_TICKET = 101
GENUINE_TICKETS = 5001  # the first of the genuine tickets


def main() -> None:
    """Run the flood and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forged", type=int, default=10_000)
    parser.add_argument("--spam", type=int, default=2_000)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between genuine first opens")
    parser.add_argument("--wait", type=float, default=90.0, help="seconds notes may still take after the flood")
    args = parser.parse_args()
    zendesk = ZendeskStandIn().start()
    zendesk.requests_per_minute = 100
    zendesk.add_ticket(SPAM_TICKET, requester_id=55, replies=[7001])
    with tempfile.TemporaryDirectory() as tmp:
        port = servers.free_port()
        env = _env(port, Path(tmp) / "flood.db", zendesk)
        command = servers.loopback_only(servers.procfile_web_command())
        with servers.Gunicorn(command, env, port, 2, Path(tmp) / "gunicorn.log"):
            figures = _flood(f"http://127.0.0.1:{port}", zendesk, args)
            files = Path(tmp).glob("flood.db*")  # the database and its write-ahead log
            figures["database MiB"] = round(sum(f.stat().st_size for f in files) / 2**20, 1)
    zendesk.stop()
    _print(figures)


def _env(port: int, db: Path, zendesk: ZendeskStandIn) -> dict[str, str]:
    """The service's environment: defaults, but for the port, the store, Zendesk and one proxy hop."""
    inherited = {s.name for s in config.SETTINGS} | {"GUNICORN_CMD_ARGS"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env.update(PORT=str(port), WEB_CONCURRENCY="2", DATABASE_URL=f"sqlite:///{db}", PROXY_HOPS="1", **zendesk.env())
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _flood(base: str, zendesk: ZendeskStandIn, args) -> dict:
    """Send the flood and the genuine opens; return the figures."""
    local = threading.local()

    def load(query: str, address: str) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        session.get(f"{base}/pixel.gif?{query}", headers={"User-Agent": THUNDERBIRD, "X-Forwarded-For": address})
        return time.time()

    junk = [(f"ticket_id={i}0000777&requester_id=1&comment_id=1", "203.0.113.9") for i in range(args.forged)]
    spam = [(f"ticket_id={SPAM_TICKET}&requester_id=55&comment_id={i}123", "198.51.100.30") for i in range(args.spam)]
    mixed = [q for pair in zip(junk[::5], spam, strict=False) for q in pair] + junk  # spam spread through the flood
    flooding = threading.Event()
    flooding.set()
    genuine: dict[int, float] = {}

    def genuine_opens() -> None:
        ticket = GENUINE_TICKETS
        while flooding.is_set():
            zendesk.add_ticket(ticket, requester_id=ticket + 1, replies=[1])
            genuine[ticket] = load(
                f"ticket_id={ticket}&requester_id={ticket + 1}&comment_id=1", f"100.64.{ticket % 250}.5"
            )
            ticket += 1
            time.sleep(args.every)

    started = time.time()
    opener = threading.Thread(target=genuine_opens)
    opener.start()
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda pair: load(*pair), dict.fromkeys(mixed)))
    flooding.clear()
    opener.join()
    sent = time.time() - started
    lags = _lags(zendesk, genuine, args.wait)
    return {"sent": sent, "lags": lags, "genuine": len(genuine), "zendesk": zendesk}


def _lags(zendesk: ZendeskStandIn, genuine: dict[int, float], wait: float) -> list[float]:
    """Wait for the genuine opens' notes; return their lags (a missing note counts as the whole wait)."""
    deadline = time.time() + wait
    while time.time() < deadline and not all(zendesk.notes_on(t) for t in genuine):
        time.sleep(0.2)
    return [(zendesk.notes_on(t)[0].at if zendesk.notes_on(t) else deadline) - at for t, at in genuine.items()]


def _print(figures: dict) -> None:
    """Print the figures as the rows of a table."""
    lags, zendesk = sorted(figures["lags"]), figures["zendesk"]
    noted = sum(1 for t in range(GENUINE_TICKETS, GENUINE_TICKETS + figures["genuine"]) if zendesk.notes_on(t))
    checks = zendesk.count_calls("GET", "/api/v2/tickets/")
    print(f"| loads sent (forged + made-up reply ids + genuine) | {figures['sent']:.1f} s |")
    print(f"| genuine first opens noted | {noted} / {figures['genuine']} |")
    print(
        f"| **genuine-open lag p50 / p95 / max** | {statistics.median(lags):.1f} / "
        f"{statistics.quantiles(lags, n=20, method='inclusive')[-1]:.1f} / {lags[-1]:.1f} s |"
    )
    print(f"| notes on the ticket of the made-up reply ids | {len(zendesk.notes_on(SPAM_TICKET))} |")
    print(f"| ticket checks made / Zendesk limit violations | {checks} / {len(zendesk.violations)} |")
    print(f"| database size after (with its write-ahead log) | {figures['database MiB']} MiB |")


if __name__ == "__main__":
    main()
