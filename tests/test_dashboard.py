"""The dashboard and the API: behind a login, figures from the store, exports, Zendesk's reply webhook."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
import time
from datetime import UTC, datetime

import pytest

from tests.conftest import drain

ADMIN = {"ADMIN_USER": "lead", "ADMIN_PASSWORD": "correct horse battery"}
LOGIN = {"Authorization": "Basic " + base64.b64encode(b"lead:correct horse battery").decode()}
THUNDERBIRD = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"}
GMAIL = {"User-Agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"}
HOOK_SECRET = "zendesk-webhook-signing-secret-of-some-length"


@pytest.fixture
def board(make_app, zendesk, database_url):
    """An app with the dashboard on: reply 1 of ticket 42 read twice, a click on a link naming
    ticket 42 (no reply id: a reply of its own), and ticket 43 loaded by a bot only; on SQLite and PostgreSQL."""
    zendesk.add_ticket(43, requester_id=8)
    app = make_app(
        database_url, **ADMIN, API_TOKEN="t" * 40, ZENDESK_WEBHOOK_SECRET=HOOK_SECRET, TRACKING_KEYS="k" * 40
    )
    client = app.test_client()
    sent = int(time.time()) - 2 * 3600
    client.get(f"/pixel.gif?ticket_id=42&requester_id=7&comment_id=1&sent={sent}", headers=THUNDERBIRD)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1", headers=GMAIL)
    client.get("/pixel.gif?ticket_id=43&requester_id=8&comment_id=5", headers={"User-Agent": "curl/8.5.0"})
    tracker = app.extensions["tracker"]
    click = tracker.click_url("https://example.com/", {"campaign": "november", "ticket_id": 42})
    client.get(click.removeprefix(app.extensions["settings"].public_url))
    drain(app.extensions["courier"])
    return app, client


def test_dashboard_is_off_without_a_login_configured(app):
    assert app.test_client().get("/dashboard").status_code == 404
    assert app.test_client().get("/api/opens").status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic " + base64.b64encode(b"lead:wrong").decode()}, {"Authorization": "Bearer nope"}],
)
def test_wrong_or_missing_password_is_refused(board, headers):
    _, client = board
    response = client.get("/dashboard", headers=headers)
    assert response.status_code == 401 and "Basic" in response.headers["WWW-Authenticate"]


def test_main_page_shows_the_figures(board):
    _, client = board
    page = client.get("/dashboard", headers=LOGIN).get_data(as_text=True)
    assert "2 of 3" in page, "the bot's load makes its reply seen (status machines), not read"
    # Thunderbird: the pixel's load, and the tracked click on ticket 42 (the test client is Thunderbird too)
    assert "<td>Thunderbird</td><td>2</td>" in page and "<td>Gmail</td><td>1</td>" in page
    assert "<td>under 1 h</td><td>0</td>" in page and "<td>1-4 h</td><td>1</td>" in page
    assert re.search(r'id="time-to-open">\s*<h2>[^<]*</h2>\s*<div class="big">(2 h|1 h 59 min)</div>', page)
    assert 'href="/dashboard/tickets/43"' in page and "other machine (not a read)" in page
    assert page.count('rect class="people"') == 30 and 'name="from"' in page
    assert "clicked a tracking link" in page, "the click on ticket 42's link shows as a click"
    campaigns = client.get("/dashboard/campaigns", headers=LOGIN).get_data(as_text=True)
    assert '<td>november</td><td class="num">0</td><td class="num">1</td>' in campaigns
    for href in ("/dashboard", "/dashboard/opens", "/dashboard/campaigns", "/dashboard/dead-letters"):
        assert f'href="{href}"' in page and f'href="{href}"' in campaigns


def test_a_range_over_a_year_is_cut_with_a_notice(board):
    _, client = board
    page = client.get("/dashboard?from=2024-01-01&to=2026-11-30", headers=LOGIN).get_data(as_text=True)
    assert "2024-01-01 to 2026-11-30 is 1065 days, more than the 366 days shown at once" in page
    assert 'value="2025-11-30"' in page and page.count('rect class="people"') == 366
    nonsense = client.get("/dashboard?from=yesterday", headers=LOGIN).get_data(as_text=True)
    assert "from must be a date such as 2026-11-22 (got &#39;yesterday&#39;)" in nonsense


def test_opens_page_filters_searches_and_pages(board):
    _, client = board
    page = client.get("/dashboard/opens?kind=bot", headers=LOGIN).get_data(as_text=True)
    assert page.count('href="/dashboard/tickets/43"') == 1 and 'href="/dashboard/tickets/42"' not in page
    by_ticket = client.get("/dashboard/opens?ticket_id=42&client=Gmail", headers=LOGIN).get_data(as_text=True)
    assert by_ticket.count("<tr class=") == 1 and "Gmail" in by_ticket
    refused = client.get("/dashboard/opens?state=read", headers=LOGIN)
    assert refused.status_code == 400 and "state must be one of new, noted" in refused.get_data(as_text=True)


def test_opens_page_pages_newest_first(make_app):
    app = make_app(**ADMIN)
    client = app.test_client()
    for n in range(55):
        client.get(f"/pixel.gif?ticket_id={100 + n}&requester_id=7&comment_id=1", headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    first = client.get("/dashboard/opens", headers=LOGIN).get_data(as_text=True)
    assert first.count("<tr class=") == 50 and first.index("#154") < first.index("#105") and "#104" not in first
    older = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(older, headers=LOGIN).get_data(as_text=True)
    assert second.count("<tr class=") == 5 and "#104" in second and "#100" in second and 'rel="next"' not in second


def test_ticket_timeline_links_to_zendesk(board, zendesk):
    _, client = board
    page = client.get("/dashboard/tickets/42", headers=LOGIN).get_data(as_text=True)
    assert f'href="{zendesk.url}/agent/tickets/42"' in page
    # two pixel loads, and the link's click shown once, as a click (not as a person's open in a browser)
    assert page.count('<tr class="open">') == 2 and page.count('<tr class="click">') == 1
    assert "to https://example.com/" in page
    assert '<td id="ticket-status">open</td>' in page and "user 7" in page
    assert "Ticket 42: Zendesk says status open, requester 7." in page
    assert "Read receipt: the requester opened your reply of Sun, Nov 22, 1:04 PM, by Ann in Thunderbird" in page
    assert page.count("first note</strong>: posted") == 2, "the reply and the link's own"
    assert "summary note</strong>: queued" in page
    assert (
        "Read receipt: your reply of Sun, Nov 22, 1:04 PM, by Ann was read once more by a person since the last note"
        in page
    )


def test_api_filters_paginates_and_exports(board):
    _, client = board
    token = {"Authorization": "Bearer " + "t" * 40}
    first = client.get("/api/opens?ticket_id=42&limit=2", headers=token).json
    assert [item["ticket_id"] for item in first["items"]] == [42, 42] and first["next_after_id"] == 2
    rest = client.get(f"/api/opens?ticket_id=42&limit=2&after_id={first['next_after_id']}", headers=token).json
    assert len(rest["items"]) == 1 and rest["next_after_id"] is None
    bots = client.get("/api/opens?kind=bot", headers=LOGIN).json["items"]
    assert [item["ticket_id"] for item in bots] == [43]
    clicks = client.get("/api/events?campaign=november", headers=token).json["items"]
    assert [item["target"] for item in clicks] == ["https://example.com/"]
    exported = client.get("/api/opens?format=csv", headers=token)
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert exported.mimetype == "text/csv" and len(rows) == 4 and rows[0]["client"] == "Thunderbird"
    assert client.get("/api/opens?ticket_id=abc", headers=token).status_code == 400
    summary = client.get("/api/summary", headers=token).json
    assert summary["replies"] == {"sent": 3, "opened": 2, "source": "pixel"}


def test_replies_read_and_time_to_read_follow_the_reply_status_whatever_gets_a_note(make_app, database_url):
    app = make_app(database_url, **ADMIN, NOTE_KINDS="apple_preload")  # a person's read gets no note
    client = app.test_client()
    sent = int(time.time()) - 2 * 3600
    client.get(f"/pixel.gif?ticket_id=42&requester_id=7&comment_id=1&sent={sent}", headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    summary = client.get("/api/summary", headers=LOGIN).json
    assert summary["replies"] == {"sent": 1, "opened": 1, "source": "pixel"}
    assert summary["time_to_open"]["count"] == 1 and summary["time_to_open"]["buckets"]["1-4 h"] == 1
    page = client.get("/dashboard", headers=LOGIN).get_data(as_text=True)
    assert '<div class="big">1 of 1</div>' in page


def test_time_to_read_puts_each_reply_in_its_own_bucket_and_takes_the_middle_one(make_app, database_url):
    app = make_app(database_url, **ADMIN)
    client = app.test_client()
    now = int(time.time())
    hours_before = {1: 0.5, 2: 2, 3: 3.5, 4: 10, 5: 30, 6: 100}  # reply -> hours from sending to this read
    for comment, hours in hours_before.items():
        sent = now - int(hours * 3600)
        client.get(f"/pixel.gif?ticket_id=42&requester_id=7&comment_id={comment}&sent={sent}", headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    timed = client.get("/api/summary", headers=LOGIN).json["time_to_open"]
    assert timed["buckets"] == {"under 1 h": 1, "1-4 h": 2, "4-24 h": 1, "1-3 days": 1, "over 3 days": 1}
    assert timed["count"] == 6
    assert 3.5 * 3600 - 120 <= timed["median_seconds"] <= 3.5 * 3600 + 120, "the third of six, sorted"


def signed(body: bytes, secret: str = HOOK_SECRET) -> dict:
    """Headers as Zendesk signs its webhooks: base64 HMAC-SHA256 over timestamp + body."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # Zendesk's timestamps are recent
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


def test_zendesk_reply_webhook_counts_replies_sent(board):
    _, client = board
    for ticket, comment in ((42, 1), (44, 9), (45, 10)):
        body = json.dumps({"ticket_id": str(ticket), "comment_id": str(comment), "sent": "2026-11-23T10:00Z"}).encode()
        assert client.post("/zendesk/replies", data=body, headers=signed(body)).json == {"recorded": True}
    again = json.dumps({"ticket_id": "42", "comment_id": "1", "sent": "2026-11-23T10:00Z"}).encode()
    assert client.post("/zendesk/replies", data=again, headers=signed(again)).json == {"recorded": False}
    forged = json.dumps({"ticket_id": "46"}).encode()
    assert client.post("/zendesk/replies", data=forged, headers=signed(forged, "guess")).status_code == 401
    summary = client.get("/api/summary?from=2026-11-01&to=2026-11-30", headers=LOGIN).json
    assert summary["replies"] == {"sent": 3, "opened": 1, "source": "zendesk"}


def test_every_state_of_an_open_and_of_a_note_has_words_on_the_dashboard():
    from read_receipts.insights import display
    from read_receipts.store.deliveries import DeliveryState
    from read_receipts.store.opens import OpenState

    assert set(display.STATE_WORDS) == set(OpenState)  # a new state shows in words, never as its code
    assert set(display.NOTE_WORDS) == set(DeliveryState)
    assert display.state_words("dry_run").startswith("no note: a dry run's load")
