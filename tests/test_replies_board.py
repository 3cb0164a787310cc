"""The replies page and the agents' table in real headless Chromium, at desk and phone widths.

The data is made the way Zendesk and mail clients make it: the signed reply webhook names each reply and its
agent, the real pixel is loaded by a person's client, Apple's preload and a scanner, and the Zendesk stand-in
answers the ticket checks (with two people in copy). Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.test_browser import ADMIN, APPLE_MPP, BROWSER_FLAGS, DESK, LOGIN, PHONE, chromium, shot, visible_in
from tests.test_dashboard import HOOK_SECRET, signed
from tests.test_server import THUNDERBIRD, Service

pytestmark = pytest.mark.server
ANN, BEN = (501, "Ann Agent"), (502, "Ben Agent")
READ, PRELOADED, SCANNED = 300, 301, 302  # Ann's replies on ticket 42, sent 3 hours ago
FORGOTTEN = range(400, 455)  # Ben's 55 replies on ticket 43, sent two days ago, never opened
AUTH = tuple(LOGIN.values())


def stamp(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def reply_sent(service: Service, ticket: int, comment: int, agent: tuple[int, str], seconds_ago: float) -> None:
    """Zendesk's reply trigger calling the webhook, signed."""
    sent = {"ticket_id": str(ticket), "comment_id": str(comment), "sent": stamp(seconds_ago)}
    body = json.dumps({**sent, "agent_id": str(agent[0]), "agent_name": agent[1]}).encode()
    answer = requests.post(f"{service.url}/zendesk/replies", data=body, headers=signed(body), timeout=5)
    assert answer.status_code == 200, answer.text


def wait_for_statuses(service: Service, expected: dict[int, str]) -> None:
    """Wait until ticket 42's replies have the statuses expected (the courier labels the loads)."""
    deadline, found = time.monotonic() + 20, {}
    while time.monotonic() < deadline:
        answer = requests.get(f"{service.url}/api/tickets/42/replies", auth=AUTH, timeout=5).json()
        found = {reply["reply"]: reply["status"] for reply in answer["replies"]}
        if found == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"statuses never became {expected}: {found}")


@pytest.fixture
def replies_board(zendesk, database_url, tmp_path):
    """A real service (on SQLite and PostgreSQL) with Ann's three replies (read, preloaded, scanned) and Ben's 55 unopened."""
    playwright = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    zendesk.add_ticket(42, requester_id=7, replies=[READ, PRELOADED, SCANNED], email_ccs=[11, 12])
    zendesk.add_ticket(43, requester_id=8, replies=list(FORGOTTEN))
    env = {
        "DATABASE_URL": database_url,
        **zendesk.env(),
        **ADMIN,
        "ZENDESK_WEBHOOK_SECRET": HOOK_SECRET,
        "DISPLAY_TIMEZONE": "Europe/Paris",
        "UNOPENED_AFTER_HOURS": "36",  # Ben's replies, two days old, are past it; Ann's, three hours old, are not
    }
    service = Service(tmp_path, env).start()
    for comment in FORGOTTEN:
        reply_sent(service, 43, comment, BEN, 2 * 86400)
    for comment in (READ, PRELOADED, SCANNED):
        reply_sent(service, 42, comment, ANN, 3 * 3600)
    pixel = f"{service.url}/pixel.gif?ticket_id=42&requester_id=7"
    for comment, agent in ((READ, THUNDERBIRD["User-Agent"]), (PRELOADED, APPLE_MPP), (SCANNED, "curl/8.5.0")):
        assert requests.get(f"{pixel}&comment_id={comment}", headers={"User-Agent": agent}, timeout=5).ok
    wait_for_statuses(service, {READ: "read", PRELOADED: "preloaded", SCANNED: "machines"})
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        yield service, browser
        browser.close()
    service.kill()


def rows_of(page, table: str) -> list[list[str]]:
    """The cells of a table's rows, as shown."""
    return [row.locator("td").all_inner_texts() for row in page.locator(f"{table} tr[class^=status-]").all()]


def test_replies_page_lists_the_unopened_first_then_every_reply_with_its_status(replies_board):
    service, browser = replies_board
    page = browser.new_context(http_credentials=LOGIN, viewport=DESK).new_page()
    page.goto(f"{service.url}/dashboard")
    assert "Replies not opened after 36 hours: 55" in page.locator("#unopened-replies").inner_text()
    page.click("header nav >> text=Replies")
    page.wait_for_url("**/dashboard/replies")
    assert page.locator("header nav a[aria-current=page]").inner_text() == "Replies"
    top = page.locator("#unopened").inner_text()
    assert "Not opened after 36 hours: 55" in top and "The newest 20 are listed" in top
    assert len(rows_of(page, "#unopened")) == 20
    listed = rows_of(page, "#replies")
    assert len(listed) == 50
    by_status = {cells[0]: cells for cells in listed[:3]}
    assert set(by_status) == {"read", "preloaded only", "machines only"}, "Ann's replies are the newest"
    read = by_status["read"]
    assert read[1] == "#42" and read[3] == "Ann Agent" and "CET" in read[2] and "ago" in read[2]
    assert "CET" in read[4] and "Thunderbird" in read[4]
    assert read[5].startswith(("2 h", "3 h")) and read[6] == "1"
    assert read[7] == "the requester or one of 2 people in copy"
    assert by_status["preloaded only"][5] == "" and by_status["machines only"][6] == "0"
    assert listed[3][:2] == ["not opened", "#43"] and listed[3][3] == "Ben Agent"
    assert listed[3][7] == "the requester" and "day" in listed[3][2]
    shot(page, "replies-desk")
    legend = page.locator("#status-legend")
    legend.locator("summary").click()
    assert "Apple Mail Privacy Protection fetched its images on delivery" in legend.inner_text()

    page.click("a[rel=next]")
    page.wait_for_url("**/dashboard/replies?before=*")
    assert len(rows_of(page, "#replies")) == 3 + 55 - 50
    page.click("a[rel=first]")
    assert len(rows_of(page, "#replies")) == 50

    phone = browser.new_context(http_credentials=LOGIN, viewport=PHONE).new_page()
    phone.goto(f"{service.url}/dashboard/replies")
    shot(phone, "replies-phone")
    for column in (1, 2, 3, 4, 6):  # status, ticket, sent, agent, time to read
        assert visible_in(phone, f"#replies tr.status-read td:nth-child({column})"), column
    assert not phone.locator("#replies tr.status-read td.opt").first.is_visible(), "details give way on a phone"
    assert visible_in(phone, "header nav a[href='/dashboard/agents-replies']")


def test_replies_filters_search_and_csv_show_the_same_replies(replies_board):
    service, browser = replies_board
    page = browser.new_context(http_credentials=LOGIN, viewport=DESK, accept_downloads=True).new_page()
    page.goto(f"{service.url}/dashboard/replies")
    page.select_option("select[name=agent_id]", label="Ann Agent")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**agent_id=501**")
    assert sorted(cells[0] for cells in rows_of(page, "#replies")) == ["machines only", "preloaded only", "read"]
    assert page.locator("#unopened").count() == 0, "Ann has no reply left unopened"
    page.select_option("select[name=status]", "preloaded")
    page.click("#filters button[type=submit]")
    assert [cells[0] for cells in rows_of(page, "#replies")] == ["preloaded only"]

    page.goto(f"{service.url}/dashboard/replies")
    page.fill("input[name=ticket_id]", "43")
    today = datetime.fromtimestamp(time.time() - 2 * 86400, ZoneInfo("Europe/Paris")).date().isoformat()
    page.fill("input[name=from]", today)
    page.fill("input[name=to]", today)
    page.select_option("select[name=status]", "not_opened")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**ticket_id=43**")
    shown = rows_of(page, "#replies")
    assert len(shown) == 50 and {cells[1] for cells in shown} == {"#43"}
    assert page.locator("#unopened").count() == 0, "with a status asked for, the list is the list"
    shot(page, "replies-filtered-desk")
    with page.expect_download() as download:
        page.click("a.download")
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert len(exported) == 55 and {row["ticket_id"] for row in exported} == {"43"}
    assert {row["status"] for row in exported} == {"not opened"} and exported[0]["agent"] == "Ben Agent"
    assert exported[0]["sent_at"].endswith("+01:00"), "times in the display zone"

    page.goto(f"{service.url}/dashboard/replies?status=seen")
    assert "status must be one of" in page.locator(".notice").inner_text()
    page.goto(f"{service.url}/dashboard/replies?before=nan_1")
    assert "before must be a paging link's value" in page.locator(".notice").inner_text()


def test_agents_table_says_what_became_of_each_agents_replies(replies_board):
    service, browser = replies_board
    page = browser.new_context(http_credentials=LOGIN, viewport=DESK).new_page()
    page.goto(f"{service.url}/dashboard/replies")
    page.click("header nav >> text=Agents' replies")
    page.wait_for_url("**/dashboard/agents-replies")
    rows = {
        cells[0]: cells
        for cells in (r.locator("td").all_inner_texts() for r in page.locator("#agents tr").all())
        if cells
    }
    assert rows["Ben Agent"][1:] == ["55", "0 %", "none read", "0 %"]
    ann = rows["Ann Agent"]
    assert ann[1:3] == ["3", "33 %"] and ann[3].startswith(("2 h", "3 h")) and ann[4] == "33 %"
    shot(page, "agents-replies-desk")
    page.click("#agents a >> text=Ann Agent")
    page.wait_for_url("**/dashboard/replies?agent_id=501")
    assert len(rows_of(page, "#replies")) == 3

    phone = browser.new_context(http_credentials=LOGIN, viewport=PHONE).new_page()
    phone.goto(f"{service.url}/dashboard/agents-replies")
    shot(phone, "agents-replies-phone")
    for column in (1, 2, 3, 4, 5):
        assert visible_in(phone, f"#agents tr:nth-child(2) td:nth-child({column})"), column
