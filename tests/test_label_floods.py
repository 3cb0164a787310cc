"""Hostile User-Agents through the real gunicorn: strings built to be slow to label hold up no real reader's note."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from read_receipts.labels.openers import MAX_AGENT_LENGTH
from tests.hostile_agents import hostile_agents
from tests.test_floods import flood, note_time
from tests.test_server import THUNDERBIRD, services  # noqa: F401 (the fixture)

pytestmark = pytest.mark.server
HOSTILE_LOADS = 5_000
# What a header may carry: no leading white space, no control characters.
SENDABLE = [agent for agent in hostile_agents() if agent == agent.lstrip() and agent.isprintable()]


def hostile_agent(i: int) -> str:
    """A hostile string made unique (so no verdict cache helps), still within the length labels read."""
    if i % 2 == 0:
        return "_" * 500 + f"u{i}"  # the string that once took 67 ms to label
    agents = SENDABLE
    unique = f" {i}"
    return agents[i % len(agents)][: MAX_AGENT_LENGTH - len(unique)] + unique


def test_a_flood_of_hostile_user_agents_leaves_a_real_first_open_noted_within_5_s(services, zendesk, sqlite_url):  # noqa: F811
    zendesk.add_ticket(600, requester_id=601)
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), "PROXY_HOPS": "1"})
    reader = {**THUNDERBIRD, "X-Forwarded-For": "198.51.100.20"}
    url = f"{service.url}/pixel.gif"
    requests.get(f"{url}?ticket_id=600&requester_id=601&comment_id=1", headers=reader, timeout=10)
    assert len(zendesk.wait_for_notes(1, ticket_id=600, timeout=20)) == 1, "the ticket's requester is checked"
    local = threading.local()
    answers: list[int] = []

    def hostile(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        headers = {"User-Agent": hostile_agent(i), "X-Forwarded-For": f"203.0.113.{i % 250}"}
        answers.append(
            session.get(f"{url}?ticket_id={700 + i % 50}&comment_id=1", headers=headers, timeout=30).status_code
        )

    flood(hostile, range(HOSTILE_LOADS))
    assert answers.count(200) == HOSTILE_LOADS, "every hostile load gets its image"
    at = time.time()
    requests.get(f"{url}?ticket_id=600&requester_id=601&comment_id=2", headers=reader, timeout=10)
    noted = note_time(zendesk, 600, 2, timeout=30)
    assert noted is not None, f"the real first open is noted:\n{service.output()[-2000:]}"
    assert noted - at < 5.0, f"noted {noted - at:.1f} s after the load"
    assert {note.ticket_id for note in zendesk.comments} == {600}, "no hostile load is noted as a read"
