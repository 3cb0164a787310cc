"""The requester's opt-out: the link's page, what confirming stops, forged links, and the admin's list."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select

from app import SECURITY_HEADERS
from read_receipts.store.schema import opens, webhooks
from tests.conftest import Clock, drain
from tests.test_server import services  # noqa: F401 (the fixture)

LINK = "/opt-out?ticket_id=42&requester_id=7"
API = "a" * 40
TOKEN = {"Authorization": f"Bearer {API}"}


@pytest.fixture
def service(make_app, database_url, zendesk):
    """An app on each backend (with the JSON API on), a second ticket of requester 7, and one of requester 8."""
    zendesk.add_ticket(43, requester_id=7)
    zendesk.add_ticket(44, requester_id=8)

    def build(**env):
        app = make_app(database_url, API_TOKEN=API, **env)
        app.extensions["courier"].clock = Clock(time.time())
        return app, app.test_client(), app.extensions["courier"]

    return build


def stored_opens(app) -> list[tuple]:
    """Every stored open: (ticket, state, ip, user agent)."""
    with app.extensions["store"].engine.connect() as conn:
        query = select(opens.c.ticket_id, opens.c.state, opens.c.ip, opens.c.user_agent).order_by(opens.c.id)
        return [tuple(row) for row in conn.execute(query)]


def test_the_link_asks_first_and_a_get_changes_nothing(service, zendesk):
    app, client, courier = service()
    page = client.get(LINK)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<form method="post" action="/opt-out">' in html and 'name="requester_id" value="7"' in html
    assert "http" not in html.replace('lang="en"', "")  # no outside resource of any kind
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/api/opt-outs", headers=TOKEN).json["items"] == []
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=3")
    drain(courier)
    assert len(zendesk.notes_on(43)) == 1


def test_confirming_stops_all_tracking_of_the_requester(service, zendesk):
    app, client, courier = service(WEBHOOK_URLS="http://127.0.0.1:9/hook", WEBHOOK_SECRET="s" * 40)
    done = client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"})
    assert done.status_code == 200 and "Read receipts are off for you" in done.get_data(as_text=True)
    for ticket in (42, 43):
        client.get(f"/pixel.gif?ticket_id={ticket}&requester_id=7&comment_id=3")
    drain(courier)
    assert zendesk.comments == []
    assert stored_opens(app) == [(42, "opted_out", None, None), (43, "opted_out", None, None)]
    with app.extensions["store"].engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhooks)).scalar_one() == 0
    [listed] = client.get("/api/opt-outs", headers=TOKEN).json["items"]
    assert listed["requester_id"] == 7 and listed["ticket_id"] == 42
    assert zendesk.violations == []


def test_the_pixel_spools_no_address_or_agent_of_an_opted_out_requester(service, tmp_path):
    app, client, courier = service()
    client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"})
    client.get("/pixel.gif?ticket_id=42&requester_id=7", headers={"User-Agent": "Thunderbird/128.5.0 opted"})
    client.get("/pixel.gif?ticket_id=44&requester_id=8", headers={"User-Agent": "Thunderbird/128.5.0 tracked"})
    spool_dir = Path(app.extensions["settings"].spool_dir)
    spooled = "".join(path.read_text() for path in spool_dir.glob("*.spool"))
    assert "tracked" in spooled and "opted" not in spooled


@pytest.mark.parametrize(
    "form",
    [
        {"ticket_id": "44", "requester_id": "7"},  # another requester's ticket
        {"ticket_id": "45", "requester_id": "7"},  # no such ticket
        {"ticket_id": "42", "requester_id": "{{ticket.requester.id}}"},
        {"ticket_id": "42", "requester_id": "7x"},
        {"ticket_id": "42"},
    ],
)
def test_a_forged_or_altered_link_changes_nothing(service, zendesk, form):
    app, client, courier = service()
    refused = client.post("/opt-out", data=form)
    assert refused.status_code == 404 and "This link is not valid" in refused.get_data(as_text=True)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3")
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1
    assert client.get("/api/opt-outs", headers=TOKEN).json["items"] == []


def test_a_link_checked_against_the_ticket_cache_needs_no_zendesk_call(service, zendesk):
    app, client, courier = service()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3")
    drain(courier)  # the courier asked Zendesk who ticket 42's requester is
    calls = zendesk.count_calls("GET", "/api/v2/tickets/")
    assert client.post("/opt-out", data={"ticket_id": "44", "requester_id": "7"}).status_code == 404
    assert client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"}).status_code == 200
    assert zendesk.count_calls("GET", "/api/v2/tickets/") == calls + 1  # ticket 44 only


def test_while_zendesk_fails_the_person_is_asked_to_try_again(service, zendesk):
    app, client, courier = service()
    zendesk.fail_next(500)
    later = client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"})
    assert later.status_code == 503 and later.headers["Retry-After"] == "60"
    assert "try again in a few minutes" in later.get_data(as_text=True)
    assert client.get("/api/opt-outs", headers=TOKEN).json["items"] == []


def test_an_admin_lists_and_revokes_through_the_api(service, zendesk):
    app, client, courier = service()
    client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"})
    assert client.get("/api/opt-outs").status_code == 401
    assert client.delete("/api/opt-outs/7").status_code == 401
    assert client.delete("/api/opt-outs/8", headers=TOKEN).status_code == 404
    assert client.delete("/api/opt-outs/99999999999999999999", headers=TOKEN).status_code == 404  # no such id
    assert client.delete("/api/opt-outs/7", headers=TOKEN).json == {"revoked": 7}
    assert client.get("/api/opt-outs", headers=TOKEN).json["items"] == []
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=3")
    drain(courier)
    assert len(zendesk.notes_on(43)) == 1
    assert stored_opens(app)[0][1:3] == ("noted", "127.0.0.0")


def test_an_admin_lists_adds_and_revokes_on_the_command_line(service, zendesk):
    app, client, courier = service()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["opt-outs", "list"]).output == "No requester has opted out.\n"
    client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"})
    assert runner.invoke(args=["opt-outs", "add", "8"]).output == "Requester 8 is not tracked.\n"
    listed = runner.invoke(args=["opt-outs", "list"]).output.splitlines()
    assert [line.split("\t")[::2] for line in listed] == [["8", "added by an admin"], ["7", "from ticket 42"]]
    assert runner.invoke(args=["opt-outs", "revoke", "7"]).output == "Requester 7 is tracked again.\n"
    missing = runner.invoke(args=["opt-outs", "revoke", "7"])
    assert missing.exit_code == 1 and "requester 7 has not opted out" in missing.output
    assert runner.invoke(args=["opt-outs", "revoke"]).exit_code == 2
    assert "has not opted out" in runner.invoke(args=["opt-outs", "revoke", "--recipient", "ann@example.com"]).output
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=3")
    client.get("/pixel.gif?ticket_id=44&requester_id=8&comment_id=3")
    drain(courier)
    assert len(zendesk.notes_on(43)) == 1 and zendesk.notes_on(44) == []


def test_img_tag_prints_the_pixel_and_the_opt_out_link(make_app):
    app = make_app(PUBLIC_URL="https://pixel.acme.com")
    lines = app.test_cli_runner().invoke(args=["img-tag"]).output.splitlines()
    assert lines[0].startswith('<img src="https://pixel.acme.com/pixel.gif?ticket_id={{ticket.id}}')
    assert (
        '<a href="https://pixel.acme.com/opt-out?ticket_id={{ticket.id}}&requester_id={{ticket.requester.id}}">'
        in lines[1]
    )


def test_img_tag_says_when_loads_cannot_be_matched_to_an_opt_out(make_app):
    app = make_app(PUBLIC_URL="https://pixel.example.com", VERIFY_REQUESTER="false")
    printed = app.test_cli_runner().invoke(args=["img-tag"])
    assert "/opt-out?ticket_id={{ticket.id}}" in printed.stdout
    assert "add &requester_id={{ticket.requester.id}} to its URL" in printed.stderr


def test_without_verification_an_opt_out_is_honoured_for_loads_that_name_the_requester(make_app, zendesk):
    app = make_app(VERIFY_REQUESTER="false")
    client = app.test_client()
    assert client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"}).status_code == 200
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3")
    drain(app.extensions["courier"])
    assert zendesk.comments == [] and app.extensions["store"].opens.by_id(1).state == "opted_out"


def wait_settled(database_url: str, count: int, timeout: float = 20.0) -> list[tuple]:
    """Wait until `count` opens are stored and triaged; return (ticket, state, ip, user agent) of each."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    query = select(opens.c.ticket_id, opens.c.state, opens.c.ip, opens.c.user_agent).order_by(opens.c.id)
    try:
        while True:
            with engine.connect() as conn:
                rows = [tuple(row) for row in conn.execute(query)]
            if (len(rows) >= count and all(row[1] != "new" for row in rows)) or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)
    finally:
        engine.dispose()


def opted_out(rows: list[tuple]) -> list[tuple]:
    """The opted-out loads among stored ones, sorted."""
    return sorted(row for row in rows if row[1] == "opted_out")


@pytest.mark.server
def test_through_gunicorn_an_opt_out_holds_across_a_restart_until_revoked(services, zendesk, database_url):  # noqa: F811
    zendesk.add_ticket(43, requester_id=7)
    zendesk.add_ticket(44, requester_id=8)
    service = services({"DATABASE_URL": database_url, "API_TOKEN": API, **zendesk.env()})
    service.load("ticket_id=42&requester_id=7&comment_id=3")
    assert len(zendesk.wait_for_notes(1, ticket_id=42)) == 1
    asked = requests.get(service.url + LINK, timeout=10)
    assert asked.status_code == 200 and 'action="/opt-out"' in asked.text
    forged = requests.post(service.url + "/opt-out", data={"ticket_id": "44", "requester_id": "7"}, timeout=10)
    assert forged.status_code == 404
    done = requests.post(service.url + "/opt-out", data={"ticket_id": "42", "requester_id": "7"}, timeout=10)
    assert done.status_code == 200 and "Read receipts are off for you" in done.text
    service.load("ticket_id=43&requester_id=7&comment_id=4")
    service.load("ticket_id=42&requester_id=7&comment_id=5")
    service.load("ticket_id=44&requester_id=8&comment_id=4")
    assert len(zendesk.wait_for_notes(1, ticket_id=44)) == 1
    # Each worker spools to its own file: rows are stored in no fixed order.
    assert opted_out(wait_settled(database_url, 4)) == [(42, "opted_out", None, None), (43, "opted_out", None, None)]

    service.kill()
    (Path(service.env["SPOOL_DIR"]) / "opt-outs.txt").unlink()  # the store alone must remember
    service.start()
    service.load("ticket_id=43&requester_id=7&comment_id=6")
    assert opted_out(wait_settled(database_url, 5))[1:] == [(43, "opted_out", None, None)] * 2
    listed = requests.get(service.url + "/api/opt-outs", headers=TOKEN, timeout=10).json()["items"]
    assert [item["requester_id"] for item in listed] == [7]

    revoked = requests.delete(service.url + "/api/opt-outs/7", headers=TOKEN, timeout=10)
    assert revoked.status_code == 200
    service.load("ticket_id=43&requester_id=7&comment_id=7")
    [note] = zendesk.wait_for_notes(1, ticket_id=43)
    assert "your reply of Sun, Nov 22, 1:10 PM, by Ann" in note.body and zendesk.notes_on(42)[1:] == []
    assert zendesk.violations == []


def test_a_tracking_link_naming_an_opted_out_requester_keeps_no_trace_and_calls_no_webhook(service, zendesk):
    keys = {"TRACKING_KEYS": "k" * 40, "WEBHOOK_URLS": "http://127.0.0.1:9/hook", "WEBHOOK_SECRET": "s" * 40}
    app, client, courier = service(**keys)
    tracker = app.extensions["tracker"]
    client.post("/opt-out", data={"ticket_id": "42", "requester_id": "7"})
    for meta in ({"ticket_id": 42, "requester_id": 7}, {"ticket_id": 44, "requester_id": 8}):
        client.get(tracker.open_url(meta).removeprefix(tracker.base_url))
    drain(courier)
    store = app.extensions["store"]
    assert [(row.ip, row.user_agent is None) for row in store.events.all()] == [(None, True), ("127.0.0.0", False)]
    with store.engine.connect() as conn:
        [sent] = conn.execute(select(webhooks.c.payload)).scalars()
    assert '"meta":{"requester_id":8,"ticket_id":44}' in sent  # only requester 8's event went out
    assert zendesk.notes_on(42) == [] and len(zendesk.notes_on(44)) == 1


def test_a_signed_opt_out_link_stops_tracking_its_recipient_until_revoked(service, zendesk):
    keys = {"TRACKING_KEYS": "k" * 40, "WEBHOOK_URLS": "http://127.0.0.1:9/hook", "WEBHOOK_SECRET": "s" * 40}
    app, client, courier = service(**keys)
    tracker = app.extensions["tracker"]
    link = tracker.opt_out_url({"recipient": "ann@example.com"}).removeprefix(tracker.base_url)
    asked = client.get(link)
    assert asked.status_code == 200 and f'action="{link}"' in asked.get_data(as_text=True)
    assert client.post(link).status_code == 200
    assert client.get("/api/opt-outs", headers=TOKEN).json["recipients"][0]["recipient"] == "ann@example.com"
    client.get(tracker.open_url({"recipient": "ann@example.com", "ticket_id": 42}).removeprefix(tracker.base_url))
    client.get(tracker.open_url({"recipient": "bob@example.com"}).removeprefix(tracker.base_url))
    drain(courier)
    store = app.extensions["store"]
    assert [(row.ip, row.user_agent is None) for row in store.events.all()] == [(None, True), ("127.0.0.0", False)]
    with store.engine.connect() as conn:
        [sent] = conn.execute(select(webhooks.c.payload)).scalars()
    assert "bob@example.com" in sent and zendesk.notes_on(42) == []
    assert "ann@example.com" not in read_copy(app)  # the copy names recipients by a hash

    revoked = client.delete("/api/opt-outs/recipients/ann@example.com", headers=TOKEN)
    assert revoked.json == {"revoked": "ann@example.com"}
    client.get(tracker.open_url({"recipient": "ann@example.com", "ticket_id": 42}).removeprefix(tracker.base_url))
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1


def read_copy(app) -> str:
    """The instance's copy of the opt-out list."""
    return (Path(app.extensions["settings"].spool_dir) / "opt-outs.txt").read_text()


@pytest.mark.parametrize("meta", [{"campaign": "november"}, {"recipient": ""}, {"recipient": True}])
def test_a_signed_link_without_a_recipient_opts_nobody_out(service, meta):
    app, client, courier = service(TRACKING_KEYS="k" * 40)
    token = app.extensions["tracker"].encode(meta)
    for path in (f"/opt-out/{token}", f"/opt-out/{token[:-2]}", "/opt-out/nonsense"):
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
    assert client.get("/api/opt-outs", headers=TOKEN).json == {"items": [], "recipients": []}


def test_sign_url_prints_an_opt_out_link_for_a_recipient(make_app):
    app = make_app(TRACKING_KEYS="k" * 40, PUBLIC_URL="https://pixel.example.com")
    runner = app.test_cli_runner()
    printed = runner.invoke(args=["sign-url", "--opt-out", "--meta", "recipient=ann@example.com"])
    token = printed.output.strip().removeprefix("https://pixel.example.com/opt-out/")
    assert app.extensions["tracker"].decode(token).meta == {"recipient": "ann@example.com"}
    refused = runner.invoke(args=["sign-url", "--opt-out", "--meta", "campaign=november"])
    assert refused.exit_code == 2 and "needs --meta recipient=" in refused.output


def test_another_instance_honours_an_opt_out_made_on_the_first(make_app, database_url, zendesk, tmp_path):
    first = make_app(database_url, SPOOL_DIR=str(tmp_path / "first"))
    second = make_app(database_url, SPOOL_DIR=str(tmp_path / "second"))  # its own disk, the same store
    assert first.test_client().post("/opt-out", data={"ticket_id": "42", "requester_id": "7"}).status_code == 200
    second.test_client().get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3")
    drain(second.extensions["courier"])
    assert zendesk.comments == [] and stored_opens(second) == [(42, "opted_out", None, None)]
    assert (tmp_path / "second" / "opt-outs.txt").read_text() == "7\n"
