"""Each reply's status, from the reply-sent webhook and the pixel, as the JSON API reports it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import drain
from tests.test_dashboard import ADMIN, GMAIL, HOOK_SECRET, LOGIN, signed

APPLE_MPP = {"User-Agent": "Mozilla/5.0"}


@pytest.fixture
def api(make_app, database_url):
    """An app with the API and the reply webhook on, on each backend."""
    app = make_app(database_url, **ADMIN, ZENDESK_WEBHOOK_SECRET=HOOK_SECRET, PUBLIC_URL="https://pixel.acme.com")
    return app, app.test_client()


def sent(client, ticket: int, comment: int, agent: tuple[str, str] | None = None) -> dict:
    """Report a reply sent, as Zendesk's webhook on the reply trigger does (with who replied, when given)."""
    payload = {"ticket_id": str(ticket), "comment_id": str(comment), "sent": "2026-11-23T10:00Z"}
    if agent:
        payload.update(agent_id=agent[0], agent_name=agent[1])
    body = json.dumps(payload).encode()
    return client.post("/zendesk/replies", data=body, headers=signed(body)).json


def test_a_sent_reply_is_not_opened_until_read_and_the_ticket_lists_its_replies(api, zendesk):
    app, client = api
    zendesk.add_ticket(43, requester_id=7, replies=[1, 2, 3], email_ccs=[8, 9])
    assert sent(client, 43, 1, ("77", "Ben")) == {"recorded": True}
    assert sent(client, 43, 2, ("{{current_user.id}}", "{{current_user.name}}")) == {"recorded": True}
    listed = client.get("/api/tickets/43/replies", headers=LOGIN).json
    assert [(r["reply"], r["status"], r["author"]) for r in listed["replies"]] == [
        (1, "not_opened", "Ben"),
        (2, "not_opened", None),
    ]
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=1", headers=APPLE_MPP)
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=1", headers=GMAIL)
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=2", headers=APPLE_MPP)
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=3", headers={"User-Agent": "curl/8.5.0"})
    drain(app.extensions["courier"])
    listed = client.get("/api/tickets/43/replies", headers=LOGIN).json
    assert listed["ticket_id"] == 43 and listed["dashboard_url"] == "https://pixel.acme.com/dashboard/tickets/43"
    replies = {r["reply"]: r for r in listed["replies"]}
    read = replies[1]
    assert read == {
        "reply": 1,
        "sent_at": "2026-11-23T10:00:00Z",
        "author": "Ben",  # as the webhook said, before the comment's author (Ann)
        "agent_id": 77,
        "status": "read",
        "first_read_at": read["first_read_at"],
        "reads": 1,
        "client": "Gmail",
        "ccs": 2,
    }
    assert read["first_read_at"].endswith("Z")
    assert (replies[2]["status"], replies[2]["author"], replies[2]["reads"]) == ("preloaded", "Ann", 0)
    # first seen through its pixel (a bot's load): its time is the comment's, its author the comment's
    assert (replies[3]["status"], replies[3]["author"]) == ("machines", "Ann")
    assert replies[3]["sent_at"] == "2026-11-22T13:06:00Z"


def test_api_replies_filters_pages_and_refuses_nonsense(api, zendesk):
    app, client = api
    for comment, agent in ((1, ("77", "Ben")), (2, ("78", "Cleo")), (3, ("77", "Ben"))):
        sent(client, 42, comment, agent)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers=GMAIL)
    drain(app.extensions["courier"])
    by_ben = client.get("/api/replies?agent_id=77", headers=LOGIN).json
    assert [(item["reply"], item["status"]) for item in by_ben["items"]] == [(1, "not_opened"), (3, "read")]
    unread = client.get("/api/replies?status=not_opened&ticket_id=42", headers=LOGIN).json["items"]
    assert [item["reply"] for item in unread] == [1, 2]
    first = client.get("/api/replies?limit=2", headers=LOGIN).json
    rest = client.get(f"/api/replies?limit=2&after_id={first['next_after_id']}", headers=LOGIN).json
    assert [i["reply"] for i in first["items"] + rest["items"]] == [1, 2, 3] and rest["next_after_id"] is None
    assert client.get("/api/replies?since=2026-11-24", headers=LOGIN).json["items"] == []
    wrong = client.get("/api/replies?status=opened", headers=LOGIN)
    assert wrong.status_code == 400
    assert (
        wrong.json["error"]["message"] == "status must be one of not_opened, machines, preloaded, read (got 'opened')"
    )
    assert client.get("/api/replies?limit=5000", headers=LOGIN).status_code == 400
    assert client.get("/api/replies?agent_id=ben", headers=LOGIN).json["error"]["status"] == 400
    assert client.get("/api/replies").status_code == 401
    assert client.get("/api/tickets/42/replies").status_code == 401
    assert client.get("/api/tickets/4x/replies", headers=LOGIN).status_code == 404
