"""The dashboard in real headless Chromium, at desk and phone widths: chart, words, filters, paging, a ticket's page.

Screenshots of every page are saved in test-artifacts/screenshots/ (the path is printed) for a reader to look at.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import requests

from read_receipts.links.tokens import Tracker
from read_receipts.store import Stores
from tests.test_server import THUNDERBIRD, Service

pytestmark = pytest.mark.server
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
ADMIN = {"ADMIN_USER": "lead", "ADMIN_PASSWORD": "correct horse battery"}
LOGIN = {"username": "lead", "password": "correct horse battery"}
TRACKING_KEY = "k" * 40
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
APPLE_MPP = "Mozilla/5.0"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
DESK, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEEDED = 3 + 5 + 4 + 40  # opens written straight into the store, on days past
LIVE = 4  # loads through the real pixel and tracking link


def chromium() -> str:
    """Debian's Chromium (`apt-get install chromium`); CI sets REQUIRE_BROWSER so it is never skipped there."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but Chromium is not installed: apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


def shot(page, name: str) -> None:
    """Save a full-page screenshot for a reader, and say where."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-first-screen.png"))  # what a reader sees on opening it
    print(f"screenshot: {path}")


@pytest.fixture
def dashboard(zendesk, sqlite_url, tmp_path):
    """A real service with a month of opens (one busy day), and loads made through the real pixel and a link."""
    playwright = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    zendesk.add_ticket(42, requester_id=7, replies=[*range(100, 141), 200, 201, 202])
    store = Stores(sqlite_url)
    day = 86400
    month_ago = time.time() - 20 * day
    for offset, agent, count in (
        (0, THUNDERBIRD["User-Agent"], 3),
        (2, THUNDERBIRD["User-Agent"], 5),
        (2, "curl/8", 4),
        (9, THUNDERBIRD["User-Agent"], 40),  # the busy day
    ):
        for n in range(count):
            values = {"ticket_id": 42, "requester_id": 7, "comment_id": 100 + n, "opened_at": month_ago + offset * day}
            store.opens.record({**values, "ip": "203.0.113.5", "user_agent": agent, "sent": None})
    store.close()
    # The seeded opens are days old and their ticket never checked: keep them from expiring.
    env = {
        "DATABASE_URL": sqlite_url,
        **zendesk.env(),
        **ADMIN,
        "UNCHECKED_OPEN_TTL_HOURS": "8760",
        "TRACKING_KEYS": TRACKING_KEY,
        "DISPLAY_TIMEZONE": "Europe/Paris",
    }
    service = Service(tmp_path, env).start()
    pixel = f"{service.url}/pixel.gif?ticket_id=42&requester_id=7"
    for reply, agent in ((200, THUNDERBIRD["User-Agent"]), (201, APPLE_MPP), (202, GMAIL)):
        requests.get(f"{pixel}&comment_id={reply}", headers={"User-Agent": agent}, timeout=5)
    link = Tracker(service.url, (TRACKING_KEY,), ()).click_url("https://example.com/help", {"ticket_id": 42})
    requests.get(link, headers={"User-Agent": CHROME}, timeout=5, allow_redirects=False)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        yield service, browser
        browser.close()
    service.kill()


def wait_for_triage(service: Service) -> None:
    """Wait until the service has labelled every stored open."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        recent = requests.get(f"{service.url}/api/opens?limit=1000", auth=tuple(LOGIN.values()), timeout=5).json()
        items = recent["items"]
        if len(items) == SEEDED + LIVE and all(item["state"] != "new" for item in items):
            return
        time.sleep(0.2)
    raise AssertionError("the service did not triage the seeded opens")


def visible_in(page, selector: str) -> bool:
    """Whether an element is shown and lies inside the viewport's width."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["width"] > 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1


def test_overview_in_chromium(dashboard):
    service, browser = dashboard
    wait_for_triage(service)
    page = browser.new_context(http_credentials=LOGIN, viewport=DESK).new_page()
    page.goto(f"{service.url}/dashboard")
    bars = page.locator("#opens-per-day rect.people")
    assert bars.count() == 30
    counts = [int(text) for text in page.locator("#opens-per-day text.count").all_text_contents()]
    assert 40 in counts, "the busy day's bar carries its count"
    assert page.locator("#opens-per-day text.y-label").count() == 5 and page.locator("text.x-label").count() >= 8
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(30)]
    assert sum(1 for height in heights if height > 0) == 4, "people read on four days"
    assert sorted(heights)[-2] > 40, "a quiet day stays readable beside the busy one"
    assert "The scale stops at" in page.locator("#opens-per-day").inner_text()
    recent = page.locator("#recent").inner_text()
    assert "clicked a tracking link" in recent and "Apple preloaded (not a read)" in recent
    assert "CET" in recent and "ago" in recent, "times in the display zone, with how long ago"
    shot(page, "overview-desk")

    phone = browser.new_context(http_credentials=LOGIN, viewport=PHONE).new_page()
    phone.goto(f"{service.url}/dashboard")
    shot(phone, "overview-phone")
    for column in ("td:nth-child(2)", "td:nth-child(3)", "td:nth-child(4)", "td:nth-child(5)"):
        assert visible_in(phone, f"#recent table.opens tr.open {column}"), column
    assert not phone.locator("#recent td.opt").first.is_visible(), "the reply id gives way on a phone"
    assert visible_in(phone, "header nav a[href='/dashboard/dead-letters']")


def test_opens_page_filters_pages_and_leads_to_the_ticket(dashboard):
    service, browser = dashboard
    wait_for_triage(service)
    page = browser.new_context(http_credentials=LOGIN, viewport=DESK).new_page()
    page.goto(f"{service.url}/dashboard")
    page.click("header nav >> text=Opens")
    page.wait_for_url("**/dashboard/opens")
    assert page.locator("#recent tr.open, #recent tr.click").count() == 50
    page.click("a[rel=next]")
    page.wait_for_url("**/dashboard/opens?before=*")
    assert page.locator("#recent tr.open, #recent tr.click").count() == SEEDED + LIVE - 50
    page.click("a[rel=first]")
    page.select_option("select[name=kind]", "apple_preload")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**kind=apple_preload**")
    assert page.locator("#recent tr.open").count() == 1
    shot(page, "opens-filtered-desk")
    page.goto(f"{service.url}/dashboard/opens")
    page.fill("input[name=ticket_id]", "42")
    page.select_option("select[name=client]", "Gmail")
    page.click("#filters button[type=submit]")
    assert page.locator("#recent tr.open").count() == 1

    page.click("#recent a >> nth=0")
    page.wait_for_url("**/dashboard/tickets/42")
    assert page.locator("#ticket-status").inner_text() == "open"
    assert page.locator("#ticket-requester").inner_text().startswith("user 7")
    assert page.locator("#timeline tr.click").count() == 1 and "to https://example.com/help" in page.inner_text(
        "#timeline"
    )
    notes = page.locator("#notes").inner_text()
    assert "Read receipt: the requester opened the email with reply #200 in Thunderbird" in notes
    assert "Apple Mail loaded the images of the email with reply #201" in notes
    shot(page, "ticket-desk")
    phone = browser.new_context(http_credentials=LOGIN, viewport=PHONE).new_page()
    phone.goto(f"{service.url}/dashboard/tickets/42")
    shot(phone, "ticket-phone")
    assert visible_in(phone, "#timeline tr.click td:nth-child(4)")
    for name in ("campaigns", "dead-letters"):
        phone.click(f"header nav a[href='/dashboard/{name}']")
        phone.wait_for_url(f"**/dashboard/{name}")
        assert phone.locator(f"header nav a[href='/dashboard/{name}'][aria-current=page]").count() == 1
        shot(phone, f"{name}-phone")


@pytest.mark.parametrize("credentials", [None, {"username": "lead", "password": "wrong password!"}])
def test_chromium_is_refused_without_the_password(dashboard, credentials):
    service, browser = dashboard
    context = browser.new_context(http_credentials=credentials) if credentials else browser.new_context()
    page = context.new_page()
    try:
        status = page.goto(f"{service.url}/dashboard").status
    except Exception as error:  # headless, the browser cannot show the login prompt and ends the navigation
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(error)
        status = 401
    assert status == 401
    assert context.request.get(f"{service.url}/dashboard").status == 401
