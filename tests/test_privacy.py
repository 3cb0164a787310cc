"""Privacy: truncated addresses, retention and erasure leave nothing behind, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select

from read_receipts.links import Tracker
from read_receipts.store import Stores
from read_receipts.store.privacy import kept_address
from read_receipts.store.schema import comments, deliveries, events, metadata, opens, replies, reply_statuses, tickets
from tests.conftest import Clock, drain, unspool
from tests.test_server import Service

KEY = "k" * 40
API = "a" * 40
BASE = "https://pixel.example.com"
THUNDERBIRD = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"}


def rows(store, table, *where) -> int:
    """Count rows in the database itself."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


@pytest.mark.parametrize(
    ("address", "mode", "kept"),
    [
        ("203.0.113.77", "truncated", "203.0.113.0"),
        ("2001:db8:1234:5678::1", "truncated", "2001:db8:1234::"),
        ("203.0.113.77", "full", "203.0.113.77"),
        ("203.0.113.77", "none", None),
        ("not an address", "truncated", None),
    ],
)
def test_kept_address(address, mode, kept):
    assert kept_address(address, mode) == kept


@pytest.mark.parametrize(("mode", "stored"), [("truncated", "198.51.100.0"), ("full", "198.51.100.77"), ("none", None)])
def test_addresses_are_kept_as_ip_storage_says(make_app, database_url, mode, stored):
    app = make_app(database_url, IP_STORAGE=mode, PROXY_HOPS="1", TRACKING_KEYS=KEY, PUBLIC_URL=BASE)
    client = app.test_client()
    headers = {**THUNDERBIRD, "X-Forwarded-For": "198.51.100.77"}
    client.get("/pixel.gif?ticket_id=42&requester_id=7", headers=headers)
    client.get(app.extensions["tracker"].open_url({"c": 1}).removeprefix(BASE), headers=headers)
    drain(app.extensions["courier"])
    store = app.extensions["store"]
    with store.engine.connect() as conn:
        addresses = set(conn.execute(select(opens.c.ip)).scalars()) | set(conn.execute(select(events.c.ip)).scalars())
    assert addresses == {stored}


def test_retention_purges_old_rows_by_itself(make_app, zendesk, database_url):
    app = make_app(database_url, RETENTION_DAYS="30", TRACKING_KEYS=KEY, PUBLIC_URL=BASE)
    client, courier, store = app.test_client(), app.extensions["courier"], app.extensions["store"]
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1", headers=THUNDERBIRD)
    client.get(app.extensions["tracker"].open_url({"campaign": "nov"}).removeprefix(BASE), headers=THUNDERBIRD)
    courier.clock = Clock(time.time())
    drain(courier)
    assert zendesk.notes_on(42) and rows(store, opens) == 1 and rows(store, events) == 1
    courier.clock.advance(29 * 86400)
    drain(courier)
    assert rows(store, opens) == 1, "kept within the retention period"
    courier.clock.advance(2 * 86400)
    drain(courier)
    for table in (opens, events, deliveries, replies, tickets):
        assert rows(store, table) == 0, table.name


def test_erasure_by_ticket_requester_and_campaign_leaves_nothing(make_app, zendesk, database_url):
    zendesk.add_ticket(43, requester_id=8)
    app = make_app(database_url, TRACKING_KEYS=KEY, PUBLIC_URL=BASE)
    client, store, tracker = app.test_client(), app.extensions["store"], app.extensions["tracker"]
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1", headers=THUNDERBIRD)
    client.get("/pixel.gif?ticket_id=43&requester_id=8&comment_id=1", headers=THUNDERBIRD)
    client.get(tracker.open_url({"campaign": "nov", "ticket_id": 42}).removeprefix(BASE), headers=THUNDERBIRD)
    client.get(tracker.open_url({"campaign": "dec"}).removeprefix(BASE), headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    runner = app.test_cli_runner()
    output = runner.invoke(args=["erase", "--ticket", "42"]).output
    # the pixel open and the link open (no comment id: another reply), each with its note
    # and each of the two replies' status, the ticket's 21 public comments as Zendesk listed them, its updates
    assert output.startswith(
        "Deleted: 2 opens, 2 replies, 0 replies sent, 2 note deliveries, 2 reply statuses, 21 comments, 1 tickets, "
        "1 events, 0 webhook calls, "
        "1 ticket updates."
    )
    assert (
        rows(store, opens, opens.c.ticket_id == 42) == 0 and rows(store, deliveries, deliveries.c.ticket_id == 42) == 0
    )
    assert "1 tickets" in runner.invoke(args=["erase", "--requester", "8"]).output
    assert rows(store, opens) == 0 and rows(store, tickets) == 0 and rows(store, replies) == 0
    assert rows(store, reply_statuses) == 0 and rows(store, comments) == 0
    assert "1 events" in runner.invoke(args=["erase", "--meta", "campaign=dec"]).output
    assert rows(store, events) == 0
    assert runner.invoke(args=["erase"]).exit_code == 2


def test_erasure_api_needs_its_token_or_the_login(make_app):
    off = make_app().test_client()
    assert off.post("/api/erasure", json={"ticket_id": 42}).status_code == 404
    client = make_app(API_TOKEN=API).test_client()
    assert client.post("/api/erasure", json={"ticket_id": 42}).status_code == 401
    wrong = {"Authorization": "Bearer " + "b" * 40}
    assert client.post("/api/erasure", json={"ticket_id": 42}, headers=wrong).status_code == 401
    good = {"Authorization": f"Bearer {API}"}
    assert client.post("/api/erasure", data="nonsense", headers=good).status_code == 400
    client.get("/pixel.gif?ticket_id=42&requester_id=7", headers=THUNDERBIRD)
    unspool(client.application)
    answer = client.post("/api/erasure", json={"ticket_id": 42}, headers=good)
    assert answer.status_code == 200 and answer.json["deleted"]["opens"] == 1
    login = {"Authorization": "Basic " + base64.b64encode(b"lead:correct horse battery").decode()}
    admin = make_app(ADMIN_USER="lead", ADMIN_PASSWORD="correct horse battery").test_client()
    assert admin.post("/api/erasure", json={"requester_id": 7}, headers=login).json["deleted"]["tickets"] == 0


def test_tickets_with_the_opt_out_tag_are_not_tracked(make_app, zendesk, database_url):
    zendesk.add_ticket(44, requester_id=9)
    zendesk.tickets[44]["tags"] = ["vip", "no_read_receipts"]
    app = make_app(database_url)
    app.test_client().get("/pixel.gif?ticket_id=44&requester_id=9", headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    store = app.extensions["store"]
    assert zendesk.notes_on(44) == []
    with store.engine.connect() as conn:
        kept = conn.execute(select(opens.c.state, opens.c.ip, opens.c.user_agent, opens.c.kind)).all()
    assert [tuple(row) for row in kept] == [("opted_out", None, None, None)]


def test_requesters_on_the_opt_out_list_are_not_tracked(make_app, zendesk):
    app = make_app(OPT_OUT_REQUESTERS="7, 12")
    app.test_client().get("/pixel.gif?ticket_id=42&requester_id=7", headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    assert zendesk.comments == [] and app.extensions["store"].opens.by_id(1).state == "opted_out"


TICKET, REQUESTER, OTHER_TICKET = 731919, 845127, 731920
RECIPIENT, CAMPAIGN = "ann-3f9c@example.com", "onboarding-7f3e"
HOOK_SECRET = "zendesk-webhook-signing-secret-of-some-length"


def holding(store, wanted: set) -> dict[str, list]:
    """Every row, of every table of the schema, holding one of the wanted ids or values (in a text or a number)."""
    found: dict[str, list] = {}
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                if any(_holds(value, wanted) for value in row):
                    found.setdefault(table.name, []).append(tuple(row))
    return found


def _holds(value, wanted: set) -> bool:
    """Whether one stored value is, or names as a word, one of the wanted ids or values."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return value in {item for item in wanted if isinstance(item, int)}
    words = set(re.split(r"[^\w@.-]+", str(value)))
    return any(str(item) in words for item in wanted)


def signed_reply(client, ticket_id: int, comment_id: int) -> None:
    """Post Zendesk's "reply sent" webhook for one reply."""
    body = json.dumps({"ticket_id": str(ticket_id), "comment_id": str(comment_id), "sent": "2026-11-23T10:00Z"})
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(HOOK_SECRET.encode(), stamp.encode() + body.encode(), hashlib.sha256).digest()
    headers = {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }
    assert client.post("/zendesk/replies", data=body, headers=headers).json == {"recorded": True}


@pytest.mark.parametrize(
    ("asked", "wanted"),
    [
        ({"ticket_id": TICKET}, {TICKET}),
        ({"requester_id": REQUESTER}, {TICKET, REQUESTER}),
        ({"meta": {"recipient": RECIPIENT}}, {RECIPIENT}),
        ({"recipient": RECIPIENT}, {RECIPIENT}),
        ({"meta": {"campaign": CAMPAIGN}}, {CAMPAIGN, RECIPIENT}),
    ],
)
def test_after_an_erasure_no_table_holds_what_it_named(make_app, zendesk, database_url, asked, wanted):
    zendesk.add_ticket(TICKET, requester_id=REQUESTER, replies=[1, 2])
    zendesk.add_ticket(OTHER_TICKET, requester_id=REQUESTER + 1, replies=[1])
    app = make_app(
        database_url,
        TRACKING_KEYS=KEY,
        PUBLIC_URL=BASE,
        API_TOKEN=API,
        ZENDESK_WEBHOOK_SECRET=HOOK_SECRET,
        WEBHOOK_URLS="http://127.0.0.1:9/hook",  # refused: the calls stay in the outbox
        WEBHOOK_SECRET="s" * 40,
    )
    client, store, tracker = app.test_client(), app.extensions["store"], app.extensions["tracker"]
    for reply in (1, 1, 2):
        client.get(f"/pixel.gif?ticket_id={TICKET}&requester_id={REQUESTER}&comment_id={reply}", headers=THUNDERBIRD)
    client.get(f"/pixel.gif?ticket_id={OTHER_TICKET}&requester_id={REQUESTER + 1}&comment_id=1", headers=THUNDERBIRD)
    link = {"campaign": CAMPAIGN, "recipient": RECIPIENT, "ticket_id": TICKET}
    client.get(tracker.open_url(link).removeprefix(BASE), headers=THUNDERBIRD)
    client.get(tracker.click_url("https://example.com/", link).removeprefix(BASE), headers=THUNDERBIRD)
    signed_reply(client, TICKET, 1)
    drain(app.extensions["courier"])
    assert zendesk.notes_on(TICKET)
    before = holding(store, wanted)
    assert {"events", "webhooks"} <= set(before), before.keys()  # the test can fail
    answer = client.post("/api/erasure", json=asked, headers={"Authorization": f"Bearer {API}"})
    assert answer.status_code == 200, answer.json
    assert holding(store, wanted) == {}
    assert zendesk.notes_on(OTHER_TICKET) and rows(store, opens, opens.c.ticket_id == OTHER_TICKET) == 1


@pytest.mark.parametrize("asked", [{"meta": {}}, {"meta": {"campaign": ""}}, {"meta": {"campaign": None}}])
def test_an_erasure_that_names_nothing_is_refused(make_app, asked):
    client = make_app(API_TOKEN=API).test_client()
    answer = client.post("/api/erasure", json=asked, headers={"Authorization": f"Bearer {API}"})
    assert answer.status_code == 400 and "erase" in answer.json["error"]["message"]


@pytest.mark.server
def test_an_erasure_through_the_procfiles_service_leaves_nothing_in_any_table(tmp_path, zendesk, database_url):
    zendesk.add_ticket(TICKET, requester_id=REQUESTER, replies=[1])
    env = {
        "DATABASE_URL": database_url,
        **zendesk.env(),
        "API_TOKEN": API,
        "TRACKING_KEYS": KEY,
        "PUBLIC_URL": BASE,
        "WEBHOOK_URLS": "http://127.0.0.1:9/hook",  # refused: the calls stay in the outbox
        "WEBHOOK_SECRET": "s" * 40,
    }
    service = Service(tmp_path, env).start()
    try:
        service.load(f"ticket_id={TICKET}&requester_id={REQUESTER}&comment_id=1")
        link = Tracker(BASE, keys=(KEY,)).open_url({"campaign": CAMPAIGN, "recipient": RECIPIENT})
        requests.get(service.url + link.removeprefix(BASE), headers=THUNDERBIRD, timeout=10)
        zendesk.wait_for_notes(1, ticket_id=TICKET)
        store = Stores(database_url)
        deadline = time.monotonic() + 15
        while len(holding(store, {TICKET, RECIPIENT})) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)  # the link's event and both webhook calls reach the store
        assert {"opens", "events", "webhooks", "tickets"} <= set(holding(store, {TICKET, REQUESTER, RECIPIENT}))
        bearer = {"Authorization": f"Bearer {API}"}
        for asked in ({"requester_id": REQUESTER}, {"meta": {"recipient": RECIPIENT}}):
            answer = requests.post(service.url + "/api/erasure", json=asked, headers=bearer, timeout=10)
            assert answer.status_code == 200, answer.text
        assert answer.json()["deleted"]["events"] == 1
        assert holding(store, {TICKET, REQUESTER, RECIPIENT}) == {}
        store.close()
    finally:
        service.kill()
