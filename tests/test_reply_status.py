"""Each reply's status, from the reply-sent webhook and the pixel, as the JSON API reports it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import time
from statistics import median

import pytest
import requests
from sqlalchemy import select

from read_receipts.delivery import notes
from read_receipts.store import reply_board
from read_receipts.store.schema import reply_statuses
from tests.conftest import drain, fresh_database
from tests.test_dashboard import ADMIN, GMAIL, HOOK_SECRET, LOGIN, signed
from tests.test_server import THUNDERBIRD, services  # noqa: F401 (the fixture)

APPLE_MPP = {"User-Agent": "Mozilla/5.0"}
TOKEN = "a" * 40


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
        (2, "not_opened", None),  # sent at the same minute: the later comment first
        (1, "not_opened", "Ben"),
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


SCANNER = {"User-Agent": "Barracuda Sentinel (EE)"}
# Per language: the notes' words for the stand-in's replies 1 and 2 (written by Ann at 13:04 and 13:05 UTC)
# and for when they were loaded (now), and the kinds noted besides a person's read.
SERVED = {
    "en": {
        "kinds": "person,apple_preload",
        "read": r"Read receipt: the requester opened your reply of Sun, Nov 22, 1:04 PM, by Ann in Thunderbird on {at}\.",
        "machine": r"Read receipt: Apple Mail loaded the images of your reply of Sun, Nov 22, 1:05 PM, by Ann on {at}\. "
        r"Apple preloads mail for privacy, so this shows delivery to Apple Mail, not that anyone read it\.",
        "at": r"[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2} at \d{1,2}:\d\d [AP]M UTC",
    },
    "de": {
        "kinds": "person,scanner",
        "read": r"Lesebestätigung: Der Anfragende hat Ihre Antwort vom So\., 22\. Nov\., 13:04 von Ann in Thunderbird "
        r"am {at} geöffnet\.",
        "machine": r"Lesebestätigung: Ein Sicherheitsscanner \(Barracuda\) hat Ihre Antwort vom So\., 22\. Nov\., 13:06 "
        r"von Ann am {at} geladen: Ein Mail-Gateway prüft die Nachricht, keine Person liest sie\.",
        "at": r"[A-Z][a-z]\., \d{1,2}\. [A-Z][a-zä]{2,3}\.? um \d\d:\d\d UTC",
    },
}


@pytest.mark.server
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("language", sorted(SERVED))
def test_served_notes_name_replies_in_each_language_per_note_kinds(services, zendesk, tmp_path, backend, language):  # noqa: F811
    words = SERVED[language]
    zendesk.add_ticket(60, requester_id=7, replies=[1, 2, 3])
    env = {"DATABASE_URL": fresh_database(backend, tmp_path), **zendesk.env(), "API_TOKEN": TOKEN}
    service = services({**env, "NOTE_LANGUAGE": language, "NOTE_KINDS": words["kinds"]})
    for comment, agent in ((1, THUNDERBIRD), (2, APPLE_MPP), (3, SCANNER)):
        url = f"{service.url}/pixel.gif?ticket_id=60&requester_id=7&comment_id={comment}"
        assert requests.get(url, headers=agent, timeout=10).status_code == 200
    zendesk.wait_for_notes(2, timeout=20, ticket_id=60)
    time.sleep(1.5)  # a third note (of the machine load NOTE_KINDS leaves out) would have come by now
    notes = zendesk.notes_on(60)
    bodies = [note.body for note in notes]
    assert len(bodies) == 2 and all(note.public is False for note in notes), bodies
    for pattern in (words["read"], words["machine"]):
        assert sum(bool(re.fullmatch(pattern.format(at=words["at"]), body)) for body in bodies) == 1, bodies
    answer = requests.get(
        f"{service.url}/api/tickets/60/replies", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert {r["reply"]: r["status"] for r in answer.json()["replies"]} == {1: "read", 2: "preloaded", 3: "machines"}
    assert zendesk.violations == []


def sent_ago(client, ticket: int, comment: int, seconds_ago: float, agent: tuple[str, str] | None) -> None:
    """Report a reply sent some time ago, as Zendesk's webhook does, with who replied (or nobody named)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))
    payload = {"ticket_id": str(ticket), "comment_id": str(comment), "sent": stamp}
    if agent:
        payload.update(agent_id=agent[0], agent_name=agent[1])
    body = json.dumps(payload).encode()
    assert client.post("/zendesk/replies", data=body, headers=signed(body)).json == {"recorded": True}


def test_agents_figures_are_those_of_their_replies(api, zendesk):
    app, client = api
    ann, ben, cid = ("61", "Ann"), ("62", "Ben"), ("63", "Cid")
    hours = 3600
    replies = {  # comment: (sent ago, agent, who loads it)
        **{
            c: ((13 - 2 * n) * hours + 7 * n, ann, GMAIL) for n, c in enumerate(range(1, 6))
        },  # five reads: an odd count
        6: (9 * hours, ann, APPLE_MPP),
        7: (5 * hours, ann, None),
        8: (40 * 86400, ann, GMAIL),  # read now, sent before the last 30 days
        **{c: ((20 - 3 * n) * hours + 11 * n, ben, GMAIL) for n, c in enumerate(range(11, 15))},  # four: even
        15: (2 * hours, ben, {"User-Agent": "curl/8.5.0"}),
        21: (3 * hours, cid, APPLE_MPP),
        22: (4 * hours, cid, None),
        31: (6 * hours, None, GMAIL),  # the webhook named nobody
    }
    zendesk.add_ticket(43, requester_id=7, replies=[*sorted(replies), 9])
    for comment, (ago, agent, _) in replies.items():
        sent_ago(client, 43, comment, ago, agent)
    for comment, (_, _, loader) in replies.items():
        if loader:
            client.get(f"/pixel.gif?ticket_id=43&requester_id=7&comment_id={comment}", headers=loader)
    minute_ago = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(time.time() - 60))  # the time its pixel carries
    client.get(f"/pixel.gif?ticket_id=43&requester_id=7&comment_id=9&sent={minute_ago}", headers=GMAIL)
    drain(app.extensions["courier"])
    sent_ago(client, 43, 9, 30 * hours, ann)  # its webhook after its read: the reply's time moves a day earlier

    since, until = time.time() - 30 * 86400, time.time() + 86400
    with app.extensions["store"].engine.connect() as conn:
        rows = conn.execute(select(reply_statuses).where(reply_statuses.c.seen_at >= since)).all()
    expected = {}
    for agent_id in {row.agent_id for row in rows}:
        mine = [row for row in rows if row.agent_id == agent_id]
        reads = [max(0.0, row.first_read_at - row.seen_at) for row in mine if row.status == "read"]
        statuses = [row.status for row in mine]
        expected[agent_id] = (len(mine), statuses.count("read"), statuses.count("preloaded"), median(reads or [0]))
    assert expected[61][:3] == (8, 6, 1) and expected[62][:3] == (5, 4, 0) and expected[None][:3] == (1, 1, 0)
    figures = reply_board.agents(app.extensions["store"], since, until)
    found = {f.agent_id: (f.sent, f.read, f.preloaded, f.median_to_read or 0) for f in figures}
    assert found == expected
    assert [f.agent_name for f in figures] == ["Ann", "Ben", "Cid", None]  # most replies first

    page = client.get("/dashboard/agents-replies", headers=LOGIN).get_data(as_text=True)
    ann_row = re.search(r"<tr>\s*<td><a href=\"/dashboard/replies\?agent_id=61\">Ann</a></td>(.*?)</tr>", page, re.S)
    cells = re.findall(r"<td class=\"num\">([^<]*)</td>", ann_row.group(1))
    assert cells == ["8", "75 %", notes.elapsed(expected[61][3]), f"{100 / 8:.0f} %"]
    assert notes.elapsed(expected[61][3]).startswith("10 h")  # between 11 and 9 of 30, 13, 11, 9, 7 and 5 hours
    ben_row = re.search(r"agent_id=62\">Ben</a></td>(.*?)</tr>", page, re.S)
    assert re.findall(r"<td class=\"num\">([^<]*)</td>", ben_row.group(1))[2].startswith("15 h")  # 17 and 14 h
    year = client.get("/dashboard/agents-replies?from=2025-12-01", headers=LOGIN).get_data(as_text=True)
    assert re.search(r"agent_id=61\">Ann</a></td>\s*<td class=\"num\">9</td>", year)  # the older reply counts


def group_sent(client, ticket: int, comment: int, seconds_ago: float, group: tuple[str, str] | None) -> None:
    """Report a reply sent, as the webhook's documented body does, with the ticket's group placeholders filled in."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))
    payload = {"ticket_id": str(ticket), "comment_id": str(comment), "sent": stamp, "agent_id": "61"}
    if group:
        payload.update(group_id=group[0], group_name=group[1])
    body = json.dumps(payload).encode()
    assert client.post("/zendesk/replies", data=body, headers=signed(body)).json == {"recorded": True}


def group_rows(page: str) -> dict[str, list[str]]:
    """The groups table's rows as shown: the group's words, then its figures."""
    table = re.search(r'<table class="agents" id="groups">(.*?)</table>', page, re.S)
    rows = re.findall(r"<tr>\s*<td>([^<]*)</td>(.*?)</tr>", table.group(1), re.S)
    return {name: re.findall(r"<td class=\"num\">([^<]*)</td>", cells) for name, cells in rows}


def test_the_agents_page_shows_the_figures_of_each_group_the_webhook_names(api, zendesk):
    app, client = api
    hours = 3600
    zendesk.add_ticket(44, requester_id=7, replies=[1, 2, 3, 4])
    zendesk.add_ticket(45, requester_id=7, replies=[5, 6])
    zendesk.add_ticket(46, requester_id=7, replies=[7])
    group_sent(client, 45, 5, 2 * hours, None)  # no group keys at all, as the body documented before
    client.get("/pixel.gif?ticket_id=45&requester_id=7&comment_id=5", headers=GMAIL)
    drain(app.extensions["courier"])
    page = client.get("/dashboard/agents-replies", headers=LOGIN).get_data(as_text=True)
    assert "Per group" not in page and 'id="groups"' not in page  # no reply has a group: no table

    billing = ("9001", "Billing")
    for comment, ago in ((1, 5 * hours), (2, 3 * hours), (3, 2 * hours), (4, hours)):
        group_sent(client, 44, comment, ago, billing)
    group_sent(client, 45, 6, hours, ("{{ticket.group.id}}", "{{ticket.group.name}}"))  # a ticket in no group
    group_sent(client, 46, 7, hours, ("9002", ""))  # a group without its name
    for comment, loader in ((1, GMAIL), (2, GMAIL), (3, APPLE_MPP)):
        client.get(f"/pixel.gif?ticket_id=44&requester_id=7&comment_id={comment}", headers=loader)
    drain(app.extensions["courier"])

    page = client.get("/dashboard/agents-replies", headers=LOGIN).get_data(as_text=True)
    assert "Per group" in page
    assert group_rows(page) == {
        "Billing": ["4", "50 %", "4 h", "25 %"],  # read 5 h and 3 h after they were sent; one preloaded only
        "group 9002": ["1", "0 %", "none read", "0 %"],
    }
    with app.extensions["store"].engine.connect() as conn:  # the replies without a group kept none
        ungrouped = conn.execute(select(reply_statuses.c.reply_key).where(reply_statuses.c.group_id.is_(None)))
        assert sorted(ungrouped.scalars()) == [5, 6]
    agents = re.search(r"agent_id=61\">agent 61</a></td>(.*?)</tr>", page, re.S)
    assert re.findall(r"<td class=\"num\">([^<]*)</td>", agents.group(1))[:2] == ["7", "43 %"]  # the agents' table too
