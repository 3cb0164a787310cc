"""Keeping only the verdict: with KEEP_USER_AGENT=false the stored open holds its kind and client, not its User-Agent."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine, select

from read_receipts.store.schema import opens
from tests.test_server import THUNDERBIRD, services  # noqa: F401 (the fixture)

pytestmark = pytest.mark.server


def stored_opens(database_url: str) -> list[tuple]:
    """Every stored open's address, User-Agent, client and kind."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(opens.c.ip, opens.c.user_agent, opens.c.client, opens.c.kind)).all()
    engine.dispose()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("env", "kept"),
    [
        ({}, ("198.51.100.0", THUNDERBIRD["User-Agent"], "Thunderbird", "person")),
        ({"KEEP_USER_AGENT": "false", "IP_STORAGE": "none"}, (None, None, "Thunderbird", "person")),
    ],
    ids=["defaults", "only the verdict"],
)
def test_only_the_verdict_is_kept_when_asked(services, zendesk, sqlite_url, env, kept):  # noqa: F811
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env(), "PROXY_HOPS": "1", **env})
    headers = {**THUNDERBIRD, "X-Forwarded-For": "198.51.100.20"}
    answer = requests.get(
        f"{service.url}/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers=headers, timeout=10
    )
    assert answer.status_code == 200
    [note] = zendesk.wait_for_notes(1, ticket_id=42)
    assert "in Thunderbird on" in note.body
    assert stored_opens(sqlite_url) == [kept]
