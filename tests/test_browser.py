"""The dashboard in real headless Chromium: log in, read the chart, filter dates, open a ticket's timeline."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import requests

from read_receipts.store import Stores
from tests.test_server import THUNDERBIRD, Service

pytestmark = pytest.mark.server
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ADMIN = {"ADMIN_USER": "lead", "ADMIN_PASSWORD": "correct horse battery"}
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """Debian's Chromium (`apt-get install chromium`); CI sets REQUIRE_BROWSER so it is never skipped there."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but Chromium is not installed: apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def dashboard(zendesk, sqlite_url, tmp_path):
    """A real service with a week of opens: people on three days, machines on one."""
    playwright = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    zendesk.add_ticket(42, requester_id=7, replies=[*range(100, 105), 200])  # the replies the opens name
    store = Stores(sqlite_url)
    day = 86400
    week_ago = time.time() - 6 * day
    for offset, agent, count in (
        (0, THUNDERBIRD["User-Agent"], 3),
        (2, THUNDERBIRD["User-Agent"], 5),
        (2, "curl/8", 4),
    ):
        for n in range(count):
            values = {"ticket_id": 42, "requester_id": 7, "comment_id": 100 + n, "opened_at": week_ago + offset * day}
            store.opens.record({**values, "ip": "203.0.113.5", "user_agent": agent, "sent": None})
    store.close()
    # The seeded opens are days old and their ticket never checked: keep them from expiring.
    env = {"DATABASE_URL": sqlite_url, **zendesk.env(), **ADMIN, "UNCHECKED_OPEN_TTL_HOURS": "8760"}
    service = Service(tmp_path, env).start()
    requests.get(f"{service.url}/pixel.gif?ticket_id=42&requester_id=7&comment_id=200", headers=THUNDERBIRD, timeout=5)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        yield service, browser
        browser.close()
    service.kill()


def wait_for_triage(service: Service) -> None:
    """Wait until the service has labelled every stored open."""
    login = (ADMIN["ADMIN_USER"], ADMIN["ADMIN_PASSWORD"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        recent = requests.get(f"{service.url}/api/opens?limit=1000", auth=login, timeout=5).json()["items"]
        if len(recent) == 13 and all(item["state"] != "new" for item in recent):
            return
        time.sleep(0.2)
    raise AssertionError("the service did not triage the seeded opens")


def test_dashboard_in_chromium(dashboard):
    service, browser = dashboard
    wait_for_triage(service)
    page = browser.new_context(http_credentials={"username": "lead", "password": "correct horse battery"}).new_page()
    page.goto(f"{service.url}/dashboard")
    bars = page.locator("#opens-per-day rect.people")
    assert bars.count() == 30
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(30)]
    assert sum(1 for height in heights if height > 0) == 3, "people read on three days"
    assert max(heights) == pytest.approx(180.0), "the busiest day fills the chart"
    machine_days = [
        float(h)
        for h in page.locator("#opens-per-day rect.machines").evaluate_all(
            "bars => bars.map(b => b.getAttribute('height'))"
        )
    ]
    assert sum(1 for height in machine_days if height > 0) == 1
    assert "Thunderbird" in page.locator("#clients").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    today = time.strftime("%Y-%m-%d", time.gmtime())
    page.fill("input[name=from]", today)
    page.fill("input[name=to]", today)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard?from=*")
    single = page.locator("#opens-per-day rect.people")
    assert single.count() == 1 and float(single.first.get_attribute("height")) > 0, "only today's reading"

    page.click("#recent a >> nth=0")
    page.wait_for_url("**/dashboard/tickets/42")
    assert page.locator("#timeline tr.open").count() == 13
    page.screenshot(path=str(ARTIFACTS / "ticket-timeline.png"), full_page=True)


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
