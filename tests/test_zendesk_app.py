"""The Zendesk sidebar app: its zip and manifest, and its page in headless Chromium against the real service."""

from __future__ import annotations

import json
import re
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from read_receipts.operations.zendesk_app_command import APP_DIR, write_app_zip
from read_receipts.store import Stores
from read_receipts.store import agent_addresses as addresses
from read_receipts.store.reply_statuses import status_of
from tests.test_browser import BROWSER_FLAGS, chromium
from tests.test_dashboard import HOOK_SECRET, signed
from tests.test_server import THUNDERBIRD, Service

TOKEN = "sidebar-app-api-token-of-forty-characters"
AGENT_OFFICE = "192.0.2.10"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
REQUIRED = {
    "manifest.json",
    "translations/en.json",
    "assets/iframe.html",
    "assets/app.js",
    "assets/app.css",
    "assets/logo.png",
    "assets/logo-small.png",
    "assets/zaf_sdk.min.js",
    "assets/zaf_sdk.LICENSE",
}


# -- the zip --------------------------------------------------------------------


@pytest.fixture
def app_zip(make_app, tmp_path) -> zipfile.ZipFile:
    """The zip `flask --app app zendesk-app` writes for a service at https://pixel.example.com."""
    app = make_app(PUBLIC_URL="https://pixel.example.com", API_TOKEN=TOKEN)
    out = tmp_path / "read-receipts.zip"
    result = app.test_cli_runner().invoke(args=["zendesk-app", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (
        f"{out}: {len(zipfile.ZipFile(out).namelist())} files, service_url https://pixel.example.com." in result.output
    )
    return zipfile.ZipFile(out)


def test_the_zip_holds_what_zendesk_requires_and_nothing_else(app_zip):
    names = set(app_zip.namelist())
    assert REQUIRED <= names
    assert all(name == "manifest.json" or name.startswith(("assets/", "translations/")) for name in names)
    assert app_zip.testzip() is None


def test_the_manifest_asks_for_the_token_as_a_secure_setting_and_whitelists_the_service(app_zip):
    manifest = json.loads(app_zip.read("manifest.json"))
    assert manifest["name"] and manifest["author"]["name"] and manifest["author"]["email"]
    assert manifest["defaultLocale"] == "en" and manifest["private"] is True
    assert manifest["frameworkVersion"] == "2.0"
    sidebar = manifest["location"]["support"]["ticket_sidebar"]
    assert sidebar["url"] == "assets/iframe.html" and sidebar["url"] in app_zip.namelist()
    parameters = {parameter["name"]: parameter for parameter in manifest["parameters"]}
    assert set(parameters) == {"service_url", "api_token"}
    assert parameters["api_token"]["secure"] is True and parameters["api_token"]["required"] is True
    assert parameters["service_url"]["default"] == "https://pixel.example.com"
    assert not parameters["service_url"].get("secure"), "the browser needs the service's address for the pass"
    assert manifest["domainWhitelist"] == ["pixel.example.com"]


def test_every_translation_names_the_app_and_labels_every_setting(app_zip):
    manifest = json.loads(app_zip.read("manifest.json"))
    locales = [name for name in app_zip.namelist() if name.startswith("translations/")]
    assert f"translations/{manifest['defaultLocale']}.json" in locales and "translations/de.json" in locales
    for name in locales:
        app = json.loads(app_zip.read(name))["app"]
        assert app["name"] and app["short_description"] and app["long_description"]
        assert {parameter["name"] for parameter in manifest["parameters"]} == set(app["parameters"])
        assert all(label["label"] for label in app["parameters"].values())


def test_the_vendored_sdk_is_the_npm_release_with_its_licence(app_zip):
    version = (APP_DIR / "assets" / "zaf_sdk.VERSION").read_text().strip()
    sdk = app_zip.read("assets/zaf_sdk.min.js").decode()
    assert sdk.startswith(f"/*! zendesk_app_framework_sdk {version} (npm), Apache-2.0")
    assert "var ZAFClient=" in sdk and "app.registered" in sdk
    assert "Apache License" in app_zip.read("assets/zaf_sdk.LICENSE").decode()
    page = app_zip.read("assets/iframe.html").decode()
    for script in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert f"assets/{script}" in app_zip.namelist(), f"iframe.html loads {script}, which the zip lacks"


def test_the_app_sends_the_token_only_through_zendesks_secure_proxy(app_zip):
    script = app_zip.read("assets/app.js").decode()
    assert "secure: true" in script and "Bearer {{setting.api_token}}" in script
    assert "settings.api_token" not in script and "innerHTML" not in script


def test_a_local_public_url_gets_a_warning(make_app, tmp_path):
    result = make_app().test_cli_runner().invoke(args=["zendesk-app", "--out", str(tmp_path / "x.zip")])
    assert result.exit_code == 0
    assert "not a public https address" in result.output and "API_TOKEN is not set" in result.output
    assert json.loads(zipfile.ZipFile(tmp_path / "x.zip").read("manifest.json"))["domainWhitelist"] == ["localhost"]


# -- the app's page in Chromium -------------------------------------------------

# The ZAF client as far as the app uses it, answered by the test: Zendesk's part of the conversation.
ZAF_STANDIN = """
window.ZAFClient = { init: function () {
  var zendesk = window.zendeskStandIn;
  return {
    metadata: function () { return Promise.resolve({ settings: zendesk.settings }); },
    get: function (paths) {
      var found = { errors: {} };
      [].concat(paths).forEach(function (path) { found[path] = zendesk.data[path]; });
      return Promise.resolve(found);
    },
    invoke: function (name, options) { zendesk.invoked.push([name, options]); return Promise.resolve({}); },
    request: function (options) {
      return window.zafProxy(options).then(function (answer) {
        if (answer.status >= 200 && answer.status < 300) {
          return options.dataType === "json" ? JSON.parse(answer.body) : answer.body;
        }
        throw { status: answer.status, responseText: answer.body };
      });
    }
  };
} };
"""


class AppHost:
    """Zendesk's host of an installed app: serves the zip's assets, with the ZAF stand-in instead of the SDK."""

    def __init__(self, archive: zipfile.ZipFile, standin: bool = True):
        files = {name: archive.read(name) for name in archive.namelist() if name.startswith("assets/")}
        page = files["assets/iframe.html"].decode()
        assert '<script src="zaf_sdk.min.js"></script>' in page
        if standin:
            files["assets/iframe.html"] = page.replace("zaf_sdk.min.js", "zaf_standin.js").encode()
            files["assets/zaf_standin.js"] = ZAF_STANDIN.encode()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _host_handler(files))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _host_handler(files: dict[str, bytes]):
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = files.get(urlsplit(self.path).path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", types.get(Path(urlsplit(self.path).path).suffix, "text/plain"))
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    return Handler


class SecureProxy:
    """Zendesk's proxy for `client.request`, as strict as Zendesk: secure settings only for whitelisted domains."""

    def __init__(self, manifest: dict, secure_settings: dict[str, str]):
        self.whitelist = set(manifest["domainWhitelist"])
        self.secure_settings = secure_settings
        self.asked: list[dict] = []

    def __call__(self, options: dict) -> dict:
        self.asked.append(options)
        headers = dict(options.get("headers") or {})
        if options.get("secure"):
            if urlsplit(options["url"]).hostname not in self.whitelist:
                return {"status": 403, "body": "secure requests go only to the manifest's domainWhitelist"}
            for name, value in headers.items():
                for setting, secret in self.secure_settings.items():
                    value = value.replace("{{setting." + setting + "}}", secret)
                headers[name] = value
        try:
            answer = requests.request(options.get("type", "GET"), options["url"], headers=headers, timeout=10)
        except requests.RequestException as error:
            return {"status": 502, "body": str(error)}
        return {"status": answer.status_code, "body": answer.text}


@pytest.fixture
def sidebar_service(zendesk, sqlite_url, tmp_path):
    """The real service, with ticket 42's replies read, preloaded, loaded by a bot and not opened."""
    zendesk.add_ticket(42, requester_id=7, replies=[9001, 9002, 9003, 9004])
    env = {
        "DATABASE_URL": sqlite_url,
        **zendesk.env(),
        "API_TOKEN": TOKEN,
        "PROXY_HOPS": "1",
        "ZENDESK_WEBHOOK_SECRET": HOOK_SECRET,
        "ADMIN_USER": "lead",
        "ADMIN_PASSWORD": "correct horse battery",
    }
    service = Service(tmp_path, env)
    service.env["PUBLIC_URL"] = service.url
    service.start()
    sent = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(time.time() - 3 * 3600))
    for reply, agent, address in (
        (9001, THUNDERBIRD["User-Agent"], "198.51.100.50"),
        (9002, "Mozilla/5.0", "198.51.100.51"),  # Apple Mail Privacy Protection
        (9003, "curl/8.5.0", "198.51.100.52"),
    ):
        query = f"ticket_id=42&requester_id=7&comment_id={reply}&sent={sent}"
        headers = {"User-Agent": agent, "X-Forwarded-For": address}
        assert requests.get(f"{service.url}/pixel.gif?{query}", headers=headers, timeout=5).ok
    body = json.dumps({"ticket_id": "42", "comment_id": "9004", "sent": sent}).encode()
    assert requests.post(f"{service.url}/zendesk/replies", data=body, headers=signed(body), timeout=5).ok
    yield service
    service.kill()


def wait_for_statuses(service: Service, expected: dict[int, str]) -> dict:
    """Wait until the replies endpoint shows the statuses expected; return its answer."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = requests.get(f"{service.url}/api/tickets/42/replies", headers=BEARER, timeout=5).json()
        if {reply["reply"]: reply["status"] for reply in answer["replies"]} == expected:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"replies never showed {expected}: {answer}")


EXPECTED = {9001: "read", 9002: "preloaded", 9003: "machines", 9004: "not_opened"}


@pytest.mark.server
def test_the_replies_endpoint_answers_the_sidebars_contract(sidebar_service):
    assert requests.get(f"{sidebar_service.url}/api/tickets/42/replies", timeout=5).status_code == 401
    answer = wait_for_statuses(sidebar_service, EXPECTED)
    assert answer["ticket_id"] == 42 and answer["dashboard_url"] == f"{sidebar_service.url}/dashboard/tickets/42"
    read = next(reply for reply in answer["replies"] if reply["reply"] == 9001)
    assert read["client"] == "Thunderbird" and read["reads"] == 1 and read["first_read_at"].endswith("Z")
    assert read["sent_at"].endswith("Z") and read["author"] == "Ann" and read["ccs"] == 0  # the comment's author
    unopened = next(reply for reply in answer["replies"] if reply["reply"] == 9004)
    assert unopened["reads"] == 0 and unopened["first_read_at"] is None and unopened["client"] is None
    missing = requests.get(f"{sidebar_service.url}/api/tickets/77/replies", headers=BEARER, timeout=5).json()
    assert missing["replies"] == []


@pytest.fixture
def browser():
    """Headless Chromium."""
    playwright = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        yield launched
        launched.close()


def open_sidebar(browser, host: AppHost, proxy: SecureProxy, service: Service, locale: str = "en-US"):
    """Open the app's page as Zendesk does in the ticket sidebar of ticket 42, for agent 1234."""
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale=locale)
    # The service's reverse proxy (PROXY_HOPS=1) tells it the address of the agent's office.
    context.set_extra_http_headers({"X-Forwarded-For": AGENT_OFFICE})
    page = context.new_page()
    page.expose_function("zafProxy", proxy)
    zendesk = {
        "settings": {"service_url": service.url},  # the secure api_token is never among them
        "data": {
            "ticket.id": 42,
            "ticket.requester.name": "Ada Requester",
            "currentUser.id": 1234,
            "currentUser.locale": locale,
        },
        "invoked": [],
    }
    page.add_init_script(f"window.zendeskStandIn = {json.dumps(zendesk)};")
    sent = []
    page.on("request", lambda request: sent.append((request.url, request.headers, request.post_data or "")))
    page.goto(f"{host.url}/assets/iframe.html?origin=https://acme.zendesk.com&app_guid=a1")
    page.wait_for_selector("li.reply >> nth=3")
    return page, sent


@pytest.mark.server
def test_the_sidebar_in_chromium_shows_each_replys_status_and_learns_the_agents_address(
    sidebar_service, browser, tmp_path
):
    service = sidebar_service
    wait_for_statuses(service, EXPECTED)
    out = tmp_path / "read-receipts.zip"
    write_app_zip(out, service.url)
    archive = zipfile.ZipFile(out)
    proxy = SecureProxy(json.loads(archive.read("manifest.json")), {"api_token": TOKEN})
    host = AppHost(archive)
    try:
        page, sent = open_sidebar(browser, host, proxy, service)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "sidebar.png"), full_page=True)
        tags = page.locator("li.reply .tag").all_inner_texts()
        assert tags == ["Not opened yet", "Machines only", "Preloaded", "Read"]  # newest first: sent together, by id
        read = page.locator("li.reply.read").inner_text()
        assert (
            read.startswith("Reply of ")
            and ", by Ann\n" in read
            and "Read by a person on" in read
            and "in Thunderbird" in read
        )
        assert "#9001" not in read  # agents know a reply by its time and author, not its comment id
        assert "Could have read it: Ada Requester" in read
        assert "not proof of reading" in page.locator("li.reply.preloaded").inner_text()
        link = page.locator("a.dashboard")
        assert link.get_attribute("href") == f"{service.url}/dashboard/tickets/42"
        assert page.evaluate("zendeskStandIn.invoked")[0][0] == "resize"

        store = Stores(service.env["DATABASE_URL"])
        deadline = time.monotonic() + 10
        while not addresses.listing(store, time.time(), 30) and time.monotonic() < deadline:
            time.sleep(0.1)
        [learned] = addresses.listing(store, time.time(), 30)
        store.close()
        assert (learned.address, learned.agent_id, learned.state) == (AGENT_OFFICE, 1234, "learned")
        assert all(options["secure"] is True for options in proxy.asked)
        assert all(TOKEN not in url + json.dumps(headers) + body for url, headers, body in sent), "the token stayed out"
        assert TOKEN not in page.content()
        direct = [url for url, _, _ in sent if url.startswith(service.url)]
        assert direct == [f"{service.url}/agents/seen"], "the one direct request carries the agent's address"

        # The agent then opens the email from the same browser's address: an agent's load, never noted.
        time.sleep(addresses.REFRESH_SECONDS + 0.5)
        query = "ticket_id=42&requester_id=7&comment_id=9004"
        from_office = {**THUNDERBIRD, "X-Forwarded-For": AGENT_OFFICE}
        assert requests.get(f"{service.url}/pixel.gif?{query}", headers=from_office, timeout=5).ok
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            items = requests.get(f"{service.url}/api/opens?ticket_id=42", headers=BEARER, timeout=5).json()["items"]
            if len(items) == 4 and all(item["state"] != "new" for item in items):
                break
            time.sleep(0.2)
        mine = next(item for item in items if item["reply"] == 9004)
        assert (mine["kind"], mine["state"]) == ("agent", "skipped")
        assert wait_for_statuses(service, EXPECTED), "the agent's own load leaves reply 9004 not opened"

        german, _ = open_sidebar(browser, host, proxy, service, locale="de-DE")
        german.screenshot(path=str(SCREENSHOTS / "sidebar-de.png"), full_page=True)
        assert german.locator("li.reply .tag").all_inner_texts() == [
            "Noch nicht geöffnet",
            "Nur Maschinen",
            "Vorgeladen",
            "Gelesen",
        ]
    finally:
        host.stop()


@pytest.mark.server
def test_the_vendored_sdk_runs_in_chromium_and_the_page_says_to_open_it_in_zendesk(browser, tmp_path):
    out = tmp_path / "read-receipts.zip"
    write_app_zip(out, "https://pixel.example.com")
    host = AppHost(zipfile.ZipFile(out), standin=False)
    try:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{host.url}/assets/iframe.html")  # outside Zendesk: no origin nor app_guid
        assert page.evaluate("typeof ZAFClient.init") == "function"
        assert page.evaluate("ZAFClient.init()") is False
        assert page.locator("#app").inner_text() == "Open this app from a ticket in Zendesk."
        assert errors == []
    finally:
        host.stop()


@pytest.mark.parametrize(
    ("kinds", "status"),
    [
        ({"person": 1, "apple_preload": 3, "scanner": 2}, "read"),
        ({"apple_preload": 1, "scanner": 2}, "preloaded"),
        ({"scanner": 2, "gmail_prefetch": 1}, "machines"),
        ({"bot": 1}, "machines"),
        ({}, "not_opened"),
    ],
)
def test_a_reply_status_says_what_its_loads_amount_to(kinds, status):
    assert status_of(kind for kind, count in kinds.items() for _ in range(count)) == status
