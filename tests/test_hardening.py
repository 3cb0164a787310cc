"""Honest counts, exact matches, definite erasures, bounded settings, and plain words on why no note was added."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest

from config import ConfigError, load_settings
from read_receipts.insights import analytics
from read_receipts.links.tokens import TargetError, check_target
from tests.conftest import Clock, drain

THUNDERBIRD = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"}
TOKEN = "t" * 40
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {"ADMIN_USER": "lead", "ADMIN_PASSWORD": "correct horse battery"}
LOGIN = {"Authorization": "Basic " + base64.b64encode(b"lead:correct horse battery").decode()}
WEBHOOKS = {"WEBHOOK_URLS": "http://127.0.0.1:9/hook", "WEBHOOK_SECRET": "s" * 40}


def opens_metric(client) -> dict[str, float]:
    """read_receipts_opens_total by kind, from /metrics."""
    found = {}
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("read_receipts_opens_total{"):
            kind = line.split('kind="')[1].split('"')[0]
            found[kind] = float(line.rsplit(" ", 1)[1])
    return found


def test_only_verified_opens_count_as_reads_and_leave_as_webhooks(make_app, zendesk):
    app = make_app(API_TOKEN=TOKEN, **WEBHOOKS)
    client = app.test_client()
    for query in (
        "ticket_id=42&requester_id=8",  # the wrong requester: forged
        "ticket_id=123",  # no requester: cannot be checked
        "ticket_id=999&requester_id=7",  # a ticket Zendesk does not have
        "ticket_id=42&requester_id=7&comment_id=1",  # the real requester
    ):
        client.get(f"/pixel.gif?{query}", headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    summary = client.get("/api/summary", headers=BEARER).json
    assert sum(day["people"] for day in summary["opens_per_day"].values()) == 1
    assert summary["not_counted"] == {"rejected": 1, "unverified": 1, "deleted": 1}
    assert opens_metric(client) == {"person": 1, "rejected": 1, "unverified": 1, "deleted": 1}
    calls = [json.loads(call.payload) for call in app.extensions["store"].webhooks.all()]
    assert [(call["type"], call["meta"]["ticket_id"], call["meta"]["requester_id"]) for call in calls] == [
        ("open", 42, 7)
    ]


def test_a_dry_run_counts_its_loads_apart(make_app):
    """With no Zendesk to ask, nothing is verified: a dry run's loads are counted as such, never as readers."""
    app = make_app(ZENDESK_URL=None, ZENDESK_EMAIL=None, ZENDESK_API_TOKEN=None, API_TOKEN=TOKEN)
    client = app.test_client()
    client.get("/pixel.gif?ticket_id=123", headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    assert opens_metric(client) == {"dry_run": 1}


def test_why_opens_got_no_note_is_logged_once_a_minute(make_app, zendesk, caplog):
    zendesk.add_ticket(43, requester_id=8)
    app = make_app(IGNORE_IPS="127.0.0.1")
    client = app.test_client()
    courier = app.extensions["courier"]
    courier.clock = clock = Clock(time.time())
    with caplog.at_level(logging.INFO, logger="read_receipts.silence"):
        client.get("/pixel.gif?ticket_id=123", headers=THUNDERBIRD)  # the README's smoke test
        drain(courier)
        client.get("/pixel.gif?ticket_id=42&requester_id=8", headers=THUNDERBIRD)
        client.get("/pixel.gif?ticket_id=43&requester_id=8", headers=THUNDERBIRD)
        client.get("/pixel.gif?ticket_id=124", headers=THUNDERBIRD)
        drain(courier)  # within the minute: summed up, not logged yet
        clock.advance(61)
        drain(courier)
    lines = [record.getMessage() for record in caplog.records if record.name == "read_receipts.silence"]
    assert lines[0] == "1 open stored without a note: 1 no requester id in the pixel URL"
    assert len(lines) == 2 and lines[1].startswith("3 opens stored without a note: ")
    for reason in ("1 requester does not match the ticket", "1 agent address (IGNORE_IPS)", "1 no requester id"):
        assert reason in lines[1]


def test_explain_shows_a_tickets_last_opens_and_their_fate(make_app, zendesk):
    app = make_app()
    client = app.test_client()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers=THUNDERBIRD)
    client.get("/pixel.gif?ticket_id=42&requester_id=9&comment_id=3", headers=THUNDERBIRD)
    client.get("/pixel.gif?ticket_id=42&comment_id=3", headers={"User-Agent": "curl/8.5.0"})
    drain(app.extensions["courier"])
    output = app.test_cli_runner().invoke(args=["explain", "42"]).output
    assert "Ticket 42: Zendesk says status open, requester 7." in output
    assert (
        output.splitlines()[1]
        == "Unread tag: never tagged reply_unopened: no reply of this ticket went unread by a person for 24 h."
    )
    lines = output.splitlines()[2:]
    assert "reply #3  Thunderbird  person  noted: the private note was posted" in lines[0]
    assert "no note: requester does not match the ticket" in lines[1]
    assert "no note: no requester id in the pixel URL" in lines[2]
    empty = app.test_cli_runner().invoke(args=["explain", "77"]).output
    assert "No opens stored" in empty


def test_erasure_must_name_what_it_erases(make_app):
    app = make_app(API_TOKEN=TOKEN, TRACKING_KEYS="k" * 40)
    client = app.test_client()
    tracker = app.extensions["tracker"]
    client.get(tracker.open_url({"campaign": "november"}).removeprefix(app.extensions["settings"].public_url))
    drain(app.extensions["courier"])
    for asked in ({"no_such_key": None}, {"campaign": "None", "x": None}, {"ticket_id": None}, {"": "x"}, {"a": {}}):
        assert client.post("/api/erasure", json=asked, headers=BEARER).status_code == 400, asked
    assert client.post("/api/erasure", json={"no_such_key": "None"}, headers=BEARER).json["deleted"]["events"] == 0
    assert len(app.extensions["store"].events.all()) == 1
    assert client.post("/api/erasure", json={"campaign": "november"}, headers=BEARER).json["deleted"]["events"] == 1


def test_the_ticket_timeline_and_campaign_filter_match_exactly(make_app):
    app = make_app(API_TOKEN=TOKEN, TRACKING_KEYS="k" * 40, **ADMIN)
    client = app.test_client()
    tracker = app.extensions["tracker"]
    base = app.extensions["settings"].public_url
    for meta in ({"ticket_id": 1234, "campaign": "50%_off"}, {"ticket_id": "12", "campaign": "5"}):
        client.get(tracker.open_url(meta).removeprefix(base))
    drain(app.extensions["courier"])
    store = app.extensions["store"]
    assert [row["meta"]["ticket_id"] for row in analytics.timeline(store, 12) if "meta" in row] == ["12"]
    assert not [row for row in analytics.timeline(store, 1) if "meta" in row]
    assert client.get("/dashboard/tickets/123", headers=LOGIN).status_code == 200
    assert "1234" not in client.get("/dashboard/tickets/123", headers=LOGIN).get_data(as_text=True)
    for wildcard in ("%", "_", "5%", "50_"):
        assert client.get(f"/api/events?campaign={wildcard}", headers=BEARER).json["items"] == [], wildcard
    [found] = client.get("/api/events?campaign=50%25_off", headers=BEARER).json["items"]
    assert found["meta"]["campaign"] == "50%_off"


def test_the_dashboard_forbids_framing_sniffing_and_scripts(make_app):
    client = make_app(**ADMIN).test_client()
    answer = client.get("/dashboard", headers=LOGIN)
    assert answer.status_code == 200
    assert "script-src" not in answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "target",
    ["http://evil.com%0d%0aSet-Cookie:x=1", "http://evil.com/\x0b", "http://evil.com:99999/", "https://a.com:x/"],
)
def test_sign_url_refuses_a_target_no_browser_reads_alike(make_app, target):
    with pytest.raises(TargetError):
        check_target(target)
    result = make_app(TRACKING_KEYS="k" * 40).test_cli_runner().invoke(args=["sign-url", "--click", target])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_a_malformed_database_url_never_echoes_its_password():
    for url in (
        "postgresql://user:s3cret-pw@host:port/db",
        "postgresql://user:s3cret-pw@/db?x=%zz",
        "nonsense s3cret-pw",
    ):
        try:
            load_settings({"DATABASE_URL": url})
        except ConfigError as error:
            assert "s3cret-pw" not in str(error)


@pytest.mark.parametrize("name", ["METRICS_TOKEN", "ZENDESK_WEBHOOK_SECRET", "API_TOKEN"])
def test_bearer_and_signing_secrets_need_32_characters(name):
    with pytest.raises(ConfigError, match=f"{name} must be at least 32 characters"):
        load_settings({name: "x"})
    assert load_settings({name: "x" * 32})
