"""Agents recognised by their own browser: passes, learned addresses labelled `agent`, shared addresses flagged."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from read_receipts.links.agent_passes import PASS_SECONDS, AgentPasses
from read_receipts.store import Stores
from read_receipts.store import agent_addresses as addresses
from tests.conftest import Clock, drain
from tests.test_server import THUNDERBIRD, Service, services  # noqa: F401 (the fixture)

TOKEN = "sidebar-app-api-token-of-forty-characters"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {"ADMIN_USER": "lead", "ADMIN_PASSWORD": "correct horse battery"}
LOGIN = (ADMIN["ADMIN_USER"], ADMIN["ADMIN_PASSWORD"])
AGENT_ID = 1234


# -- passes, on a clock the test sets -------------------------------------------


def test_a_pass_is_short_lived_and_bound_to_its_agent():
    clock = Clock(1_800_000_000.0)
    passes = AgentPasses(TOKEN, clock=clock)
    token = passes.issue(AGENT_ID)
    genuine = passes.read(token, AGENT_ID)
    assert genuine is not None and genuine.agent_id == AGENT_ID and len(genuine.pass_id) == 32
    assert passes.read(token, AGENT_ID + 1) is None, "another agent cannot use it"
    assert passes.read(token, None) is None
    assert passes.issue(AGENT_ID) != token, "every pass has its own id"
    clock.advance(PASS_SECONDS)
    assert passes.read(token, AGENT_ID) is not None, "still valid at its last second"
    clock.advance(1)
    assert passes.read(token, AGENT_ID) is None, "expired"


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token.replace(f"{AGENT_ID}-", f"{AGENT_ID + 1}-", 1),  # the agent id changed
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # the signature changed
        lambda token: f"{AGENT_ID}-{'0' * 32}",  # no signature at all
        lambda token: AgentPasses("another-service-secret-of-forty-chars!!").issue(AGENT_ID),
        lambda token: "",
        lambda token: "\udcff" * 10,  # not even text
    ],
)
def test_a_forged_pass_is_refused(forge):
    passes = AgentPasses(TOKEN)
    forged = forge(passes.issue(AGENT_ID))
    assert passes.read(forged, AGENT_ID) is None and passes.read(forged, AGENT_ID + 1) is None


# -- the routes, in process -----------------------------------------------------


@pytest.fixture
def sidebar_app(make_app):
    """An app with the API token and the dashboard login set."""
    app = make_app(API_TOKEN=TOKEN, **ADMIN)
    return app, app.test_client()


def pass_for(client, agent_id: int = AGENT_ID) -> dict:
    """Ask for a pass as the app does through Zendesk's proxy (with the bearer token)."""
    answer = client.get(f"/api/agents/pass?agent_id={agent_id}", headers=BEARER)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()


def seen(client, token: str, address: str, agent_id: int = AGENT_ID):
    """Present a pass from the agent's browser, at an address."""
    form = {"agent": str(agent_id), "pass": token}
    return client.post("/agents/seen", data=form, environ_base={"REMOTE_ADDR": address})


def learned(app) -> dict[str, str]:
    """The learned addresses and their states."""
    found = addresses.listing(app.extensions["store"], time.time(), 30)
    return {item.address: item.state for item in found}


def test_a_pass_needs_the_api_token_and_names_the_seen_url(sidebar_app):
    app, client = sidebar_app
    assert client.get(f"/api/agents/pass?agent_id={AGENT_ID}").status_code == 401
    assert client.get("/api/agents/pass?agent_id=someone", headers=BEARER).status_code == 400
    answer = pass_for(client)
    assert answer["seen_url"] == app.extensions["settings"].public_url + "/agents/seen"
    assert answer["expires_in"] == PASS_SECONDS and answer["agent_id"] == AGENT_ID


def test_a_pass_is_single_use_and_a_replay_learns_nothing(sidebar_app):
    app, client = sidebar_app
    token = pass_for(client)["pass"]
    first = seen(client, token, "198.51.100.7")
    assert first.status_code == 200 and first.get_json() == {"address": "198.51.100.7", "state": "learned"}
    replay = seen(client, token, "198.51.100.66")
    assert replay.status_code == 403 and "used already" in replay.get_json()["error"]["message"]
    assert learned(app) == {"198.51.100.7": "learned"}


def test_a_forged_or_misbound_pass_learns_nothing(sidebar_app):
    app, client = sidebar_app
    token = pass_for(client, agent_id=AGENT_ID)["pass"]
    assert seen(client, token, "198.51.100.20", agent_id=AGENT_ID + 1).status_code == 403
    assert seen(client, f"{AGENT_ID}-{'0' * 32}.AAAAAA.forged", "198.51.100.21").status_code == 403
    assert seen(client, token.replace(f"{AGENT_ID}-", "999-", 1), "198.51.100.22", agent_id=999).status_code == 403
    assert client.post("/agents/seen", data=b"\x00" * 5000, content_type="text/plain").status_code in (403, 413)
    assert learned(app) == {}
    assert seen(client, token, "198.51.100.23").status_code == 200, "the genuine pass was not spent by the forgeries"


def test_a_pass_from_a_loopback_address_learns_nothing(sidebar_app, caplog):
    app, client = sidebar_app
    refused = seen(client, pass_for(client)["pass"], "127.0.0.1")
    assert refused.status_code == 403 and "PROXY_HOPS" in refused.get_json()["error"]["message"]
    assert "set PROXY_HOPS behind a proxy" in caplog.text
    assert learned(app) == {}, "learning a local proxy's address would label every load agent"


def test_an_expired_pass_learns_nothing(sidebar_app):
    app, client = sidebar_app
    clock = Clock(time.time())
    app.extensions["agent_passes"] = AgentPasses(TOKEN, clock=clock)
    token = pass_for(client)["pass"]
    clock.advance(PASS_SECONDS + 1)
    assert seen(client, token, "198.51.100.7").status_code == 403
    assert learned(app) == {}


def test_learning_off_refuses_passes(make_app):
    client = make_app(API_TOKEN=TOKEN, AGENT_LEARNING="false").test_client()
    assert client.get(f"/api/agents/pass?agent_id={AGENT_ID}", headers=BEARER).status_code == 404
    assert client.post("/agents/seen", data={"agent": "1", "pass": "x"}).status_code == 404


def test_agents_cli_lists_confirms_and_forgets(sidebar_app):
    app, client = sidebar_app
    seen(client, pass_for(client)["pass"], "198.51.100.7")
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["agents", "list"])
    assert listed.exit_code == 0 and "198.51.100.7\tlearned\tagent 1234" in listed.output
    assert runner.invoke(args=["agents", "confirm", "198.51.100.7"]).exit_code == 0
    assert learned(app) == {"198.51.100.7": "confirmed"}
    assert "Forgot 198.51.100.7." in runner.invoke(args=["agents", "forget", "198.51.100.7"]).output
    assert "No agent address learned yet." in runner.invoke(args=["agents", "list"]).output
    missing = runner.invoke(args=["agents", "forget", "198.51.100.7"])
    assert missing.exit_code != 0 and "not a learned agent address" in missing.output
    assert runner.invoke(args=["agents", "forget", "not-an-address"]).exit_code == 2


def test_in_process_a_learned_address_loads_as_agent(sidebar_app, zendesk):
    app, client = sidebar_app
    seen(client, pass_for(client)["pass"], "198.51.100.7")
    for address, reply in (("198.51.100.7", 2), ("198.51.100.8", 3)):
        client.get(f"/pixel.gif?ticket_id=42&requester_id=7&comment_id={reply}", environ_base={"REMOTE_ADDR": address})
    drain(app.extensions["courier"])
    store: Stores = app.extensions["store"]
    kinds = {row.comment_id: (row.kind, row.state) for row in map(store.opens.by_id, (1, 2))}
    assert kinds == {2: ("agent", "skipped"), 3: ("person", "noted")}
    assert [
        note.body for note in zendesk.notes_on(42) if "your reply of Sun, Nov 22, 1:05 PM, by Ann in" in note.body
    ] == []


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/tickets/9223372036854775808/replies", {"headers": BEARER}, 404),
        ("GET", "/api/tickets/" + "9" * 400 + "/replies", {"headers": BEARER}, 404),
        ("GET", "/api/tickets/-1/replies", {"headers": BEARER}, 404),
        ("GET", "/api/tickets/42/replies", {"headers": {"Authorization": "Bearer wrong"}}, 401),
        ("GET", "/api/agents/pass?agent_id=99999999999999999999999", {"headers": BEARER}, 400),
        ("GET", "/api/agents/pass?agent_id=%00", {"headers": BEARER}, 400),
        ("GET", "/api/agents/pass", {"headers": BEARER}, 400),
        ("POST", "/agents/seen", {"data": {"agent": "1234"}}, 403),
        ("POST", "/agents/seen", {"data": {"agent": "x" * 100, "pass": "y" * 100}}, 403),
        ("POST", "/agents/seen", {"data": {"agent": "1", "pass": "p" * 5000}}, 413),
        ("GET", "/agents/seen", {}, 405),
        ("GET", "/dashboard/agents", {}, 401),
        ("POST", "/dashboard/agents/explode", {"headers": {"Origin": "http://localhost"}}, 401),
    ],
)
def test_hostile_requests_get_a_clear_answer(sidebar_app, method, path, kwargs, status):
    _, client = sidebar_app
    answer = client.open(path, method=method, **kwargs)
    assert answer.status_code == status
    if status != 401:
        assert answer.get_json()["error"]["status"] == status


@pytest.mark.parametrize(
    ("form", "headers", "status"),
    [
        ({"address": "198.51.100.7"}, {}, 403),  # no sign that the dashboard sent it
        ({"address": "198.51.100.7"}, {"Origin": "https://elsewhere.example"}, 403),
        ({"address": "198.51.100.7"}, {"Sec-Fetch-Site": "cross-site"}, 403),
        ({"address": "not an address"}, {"Sec-Fetch-Site": "same-origin"}, 400),
        ({"address": "198.51.100.99"}, {"Sec-Fetch-Site": "same-origin"}, 404),
        ({"address": "198.51.100.7"}, {"Sec-Fetch-Site": "same-origin"}, 303),
    ],
)
def test_the_dashboards_forget_button_only_works_from_the_dashboard(sidebar_app, form, headers, status):
    app, client = sidebar_app
    seen(client, pass_for(client)["pass"], "198.51.100.7")
    login = {"Authorization": "Basic " + base64.b64encode(b"lead:correct horse battery").decode()}
    answer = client.post("/dashboard/agents/forget", data=form, headers={**login, **headers})
    assert answer.status_code == status
    assert learned(app) == ({} if status == 303 else {"198.51.100.7": "learned"})


# -- the real service -----------------------------------------------------------


def through_proxy(address: str) -> dict:
    """Headers of a request that reached the service through its proxy (PROXY_HOPS=1) from an address."""
    return {**THUNDERBIRD, "X-Forwarded-For": address}


def service_pass(service: Service, agent_id: int = AGENT_ID) -> str:
    answer = requests.get(f"{service.url}/api/agents/pass?agent_id={agent_id}", headers=BEARER, timeout=5)
    assert answer.status_code == 200
    return answer.json()["pass"]


def service_seen(service: Service, address: str, agent_id: int = AGENT_ID) -> requests.Response:
    form = {"agent": str(agent_id), "pass": service_pass(service, agent_id)}
    return requests.post(f"{service.url}/agents/seen", data=form, headers=through_proxy(address), timeout=5)


def load(service: Service, address: str, reply: int) -> None:
    query = f"ticket_id=42&requester_id=7&comment_id={reply}"
    assert requests.get(f"{service.url}/pixel.gif?{query}", headers=through_proxy(address), timeout=5).ok


def labelled(service: Service, count: int) -> dict[int, tuple[str, str]]:
    """Wait until `count` opens of ticket 42 are triaged; return (kind, state) by reply."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = requests.get(f"{service.url}/api/opens?ticket_id=42", headers=BEARER, timeout=5).json()["items"]
        if len(items) >= count and all(item["state"] != "new" for item in items):
            return {item["reply"]: (item["kind"], item["state"]) for item in items}
        time.sleep(0.1)
    raise AssertionError(f"opens were not triaged: {items}")


@pytest.mark.server
def test_learned_addresses_load_as_agent_and_one_shared_with_requesters_is_flagged(services, zendesk, sqlite_url):  # noqa: F811
    env = {"DATABASE_URL": sqlite_url, **zendesk.env(), "API_TOKEN": TOKEN, "PROXY_HOPS": "1", **ADMIN}
    service = services(env)
    office, shared = "198.51.100.7", "203.0.113.9"
    load(service, "203.0.113.40", 1)  # the requester reads reply 1 behind an office NAT shared with agents
    assert len(zendesk.wait_for_notes(1, ticket_id=42)) == 1
    assert labelled(service, 1)[1] == ("person", "noted")

    assert service_seen(service, office).json()["state"] == "learned"
    flagged = service_seen(service, shared, agent_id=5678)
    assert flagged.status_code == 200 and flagged.json()["state"] == "flagged"
    time.sleep(addresses.REFRESH_SECONDS + 0.5)  # the courier process reads the learned addresses again
    load(service, office, 2)
    load(service, shared, 3)
    assert labelled(service, 3) == {1: ("person", "noted"), 2: ("agent", "skipped"), 3: ("person", "noted")}
    notes = zendesk.wait_for_notes(2, ticket_id=42)
    assert any("your reply of Sun, Nov 22, 1:06 PM, by Ann in" in note.body for note in notes) and not any(
        "your reply of Sun, Nov 22, 1:05 PM, by Ann in" in note.body for note in notes
    )

    page = requests.get(f"{service.url}/dashboard/agents", auth=LOGIN, timeout=5)
    assert (
        page.status_code == 200
        and "203.0.113.9</td><td>flagged" in page.text
        and "198.51.100.7</td><td>learned" in page.text
    )
    confirm = f"{service.url}/dashboard/agents/confirm"
    refused = requests.post(confirm, data={"address": shared}, auth=LOGIN, timeout=5, allow_redirects=False)
    assert refused.status_code == 403, "a form posted from another site is refused"
    same_site = {"Origin": service.url}
    answer = requests.post(
        confirm, data={"address": shared}, auth=LOGIN, headers=same_site, timeout=5, allow_redirects=False
    )
    assert answer.status_code == 303
    time.sleep(addresses.REFRESH_SECONDS + 0.5)
    load(service, shared, 4)
    assert labelled(service, 4)[4] == ("agent", "skipped"), "confirmed by the admin: applied"


@pytest.mark.parametrize(
    ("load_address", "applied"),
    [
        ("198.51.100.7", True),
        ("::ffff:198.51.100.7", True),  # the same address, IPv4-mapped
        ("2001:db8::1", True),
        ("2001:0db8:0000::0001", True),  # the same IPv6 address, spelt longer
        ("198.51.100.8", False),
        ("2001:db8::2", False),
        ("not an address", False),
        (None, False),
    ],
)
def test_triage_asks_whether_an_address_is_learned_in_any_spelling(make_app, load_address, applied):
    app = make_app(API_TOKEN=TOKEN)
    store, settings = app.extensions["store"], app.extensions["settings"]
    for address in ("198.51.100.7", "2001:db8::1"):
        addresses.learn(store, address, AGENT_ID, time.time(), 30, "truncated")
    assert addresses.is_learned_agent_address(store, settings, load_address) is applied
    off = make_app(API_TOKEN=TOKEN, AGENT_LEARNING="false")
    assert (
        addresses.is_learned_agent_address(off.extensions["store"], off.extensions["settings"], load_address) is False
    )


SAME_SITE = "http://localhost"  # the test client's own host


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": SAME_SITE}, True),
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Referer": f"{SAME_SITE}/dashboard"}, True),  # a browser that sends no Origin on a form post
        ({}, False),
        ({"Origin": "https://elsewhere.example"}, False),
        ({"Origin": "null"}, False),
        ({"Sec-Fetch-Site": "cross-site", "Origin": SAME_SITE}, False),  # the headers disagree: refused
        ({"Sec-Fetch-Site": "same-origin", "Origin": "https://elsewhere.example"}, False),
        ({"Referer": "https://elsewhere.example/dashboard"}, False),
    ],
)
def test_every_dashboard_form_takes_the_same_posts_as_its_own(sidebar_app, headers, allowed):
    _, client = sidebar_app
    login = {"Authorization": "Basic " + base64.b64encode(b"lead:correct horse battery").decode()}
    forms = ["/dashboard/agents/forget", "/dashboard/dead-letters/opens/1/delete"]
    statuses = [client.post(form, data={"address": "198.51.100.99"}, headers={**login, **headers}) for form in forms]
    assert [answer.status_code for answer in statuses] == (
        [404, 303] if allowed else [403, 403]
    )  # 404: no such address
