"""Webhooks: signed, at least once, from settings only, through receiver outages and restarts."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from config import ConfigError, load_settings
from read_receipts.links import Tracker
from read_receipts.links import signatures as webhooks
from tests.conftest import drain
from tests.test_server import Service

KEY = "k" * 40
SECRET = "s" * 40
BASE = "https://pixel.example.com"
THUNDERBIRD = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"}


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks signatures, and can go down."""

    def __init__(self):
        self.accepted: list[dict] = []
        self.bodies: list = []  # each POST's JSON: an event, or an array of events
        self.refused_signatures = 0
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.down:
                    self.send_response(503)
                elif not webhooks.verify(SECRET, self.headers.get("X-Signature", ""), body):
                    receiver.refused_signatures += 1
                    self.send_response(401)
                else:
                    events = json.loads(body)
                    if isinstance(events, list):  # WEBHOOK_BATCH_SIZE above 1: an array, and no X-Event-Id
                        assert "X-Event-Id" not in self.headers
                    else:
                        assert events["id"] == self.headers["X-Event-Id"]
                    receiver.bodies.append(events)
                    receiver.accepted.extend(events if isinstance(events, list) else [events])
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def unique(self) -> dict[str, dict]:
        """Accepted events by id: what a receiver that de-duplicates keeps."""
        return {event["id"]: event for event in self.accepted}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = [Receiver(), Receiver()]
    yield made
    for receiver in made:
        receiver.close()


@pytest.fixture
def hooked(make_app, receivers, sqlite_url):
    """Build apps that send to both receivers, on one store."""

    def build(**env):
        urls = ",".join(receiver.url for receiver in receivers)
        settings = {"TRACKING_KEYS": KEY, "PUBLIC_URL": BASE, "WEBHOOK_URLS": urls, "WEBHOOK_SECRET": SECRET, **env}
        return make_app(sqlite_url, **settings)

    return build


def test_opens_and_clicks_reach_every_receiver_signed(hooked, receivers):
    app = hooked()
    tracker, client = app.extensions["tracker"], app.test_client()
    client.get(tracker.open_url({"campaign": "nov"}).removeprefix(BASE), headers=THUNDERBIRD)
    client.get(tracker.click_url("https://example.com/x", {"campaign": "nov"}).removeprefix(BASE), headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    for receiver in receivers:
        opened, clicked = sorted(receiver.accepted, key=lambda event: event["type"], reverse=True)
        assert (opened["type"], opened["meta"], opened["target"]) == ("open", {"campaign": "nov"}, None)
        assert (clicked["type"], clicked["target"], clicked["client"], clicked["kind"]) == (
            "click",
            "https://example.com/x",
            "Thunderbird",
            "person",
        )
        assert receiver.refused_signatures == 0
    assert receivers[0].unique().keys() == receivers[1].unique().keys(), "one id per event, for every receiver"


def test_a_receiver_outage_delays_but_loses_nothing_and_a_restart_does_not_matter(hooked, receivers):
    app = hooked()
    tracker, client = app.extensions["tracker"], app.test_client()
    receivers[0].down = True
    for n in range(5):
        client.get(tracker.open_url({"n": n}).removeprefix(BASE))
    drain(app.extensions["courier"])
    assert len(receivers[1].unique()) == 5, "the healthy receiver is not held up"
    assert receivers[0].accepted == []
    app.extensions["courier"].stop()
    restarted = hooked()  # a new process on the same store
    receivers[0].down = False
    with restarted.extensions["store"].engine.begin() as conn:  # let the backoff pass
        conn.exec_driver_sql("UPDATE webhooks SET due_at = 0 WHERE state = 'pending'")
    drain(restarted.extensions["courier"])
    assert sorted(event["meta"]["n"] for event in receivers[0].unique().values()) == [0, 1, 2, 3, 4]
    assert receivers[0].unique().keys() == receivers[1].unique().keys()
    calls = restarted.extensions["store"].webhooks.all()
    assert {call.state for call in calls} == {"done"} and max(call.attempts for call in calls) >= 1


def test_a_link_cannot_choose_where_webhooks_go(hooked, receivers):
    app = hooked()
    stray = Receiver()
    tracker = app.extensions["tracker"]
    meta = {"webhook_url": stray.url, "url": stray.url, "callback": stray.url}
    app.test_client().get(tracker.open_url(meta).removeprefix(BASE))
    drain(app.extensions["courier"])
    stray.close()
    assert stray.accepted == [] and len(receivers[0].accepted) == 1
    assert {call.url for call in app.extensions["store"].webhooks.all()} == {r.url for r in receivers}


def test_signature_verification_refuses_tampering_and_replays():
    body = b'{"id":"1"}'
    header = webhooks.signature(SECRET, int(time.time()), body)
    assert webhooks.verify(SECRET, header, body)
    assert not webhooks.verify(SECRET, header, b'{"id":"2"}')
    assert not webhooks.verify("x" * 40, header, body)
    assert not webhooks.verify(SECRET, webhooks.signature(SECRET, int(time.time()) - 3600, body), body)
    assert not webhooks.verify(SECRET, "garbage", body)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEBHOOK_URLS": "https://hooks.example.com/x"}, "WEBHOOK_SECRET must be set"),
        ({"WEBHOOK_URLS": "http://hooks.example.com/x", "WEBHOOK_SECRET": SECRET}, "must use https"),
        ({"WEBHOOK_URLS": "hooks.example.com", "WEBHOOK_SECRET": SECRET}, "absolute http(s) URLs"),
    ],
)
def test_bad_webhook_settings_stop_start_up(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env)


def test_pixel_opens_go_to_webhooks_too_but_forged_ones_do_not(hooked, receivers, zendesk):
    app = hooked()
    client = app.test_client()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers=THUNDERBIRD)
    client.get("/pixel.gif?ticket_id=42&requester_id=99", headers=THUNDERBIRD)  # not the requester
    drain(app.extensions["courier"])
    [event] = receivers[0].accepted
    assert (event["type"], event["meta"], event["client"], event["kind"]) == (
        "open",
        {"ticket_id": 42, "requester_id": 7, "comment_id": 3},
        "Thunderbird",
        "person",
    )


def test_a_link_open_naming_a_ticket_is_sent_once(hooked, receivers):
    app = hooked()
    tracker = app.extensions["tracker"]
    app.test_client().get(tracker.open_url({"ticket_id": 42}).removeprefix(BASE), headers=THUNDERBIRD)
    drain(app.extensions["courier"])
    assert [event["type"] for event in receivers[0].accepted] == ["open"]


def test_one_event_per_post_keeps_the_body_an_object(hooked, receivers):
    app = hooked()
    app.test_client().get(app.extensions["tracker"].open_url({"n": 1}).removeprefix(BASE))
    drain(app.extensions["courier"])
    [body] = receivers[0].bodies
    assert isinstance(body, dict) and body["meta"] == {"n": 1}


def test_batches_post_arrays_of_events_each_with_its_own_id(hooked, receivers):
    app = hooked(WEBHOOK_BATCH_SIZE="5")
    tracker, client = app.extensions["tracker"], app.test_client()
    for n in range(12):
        client.get(tracker.open_url({"n": n}).removeprefix(BASE))
    drain(app.extensions["courier"])
    for receiver in receivers:
        assert all(isinstance(body, list) and 1 <= len(body) <= 5 for body in receiver.bodies)
        assert len(receiver.bodies) < 12  # events shared POSTs
        assert sorted(event["meta"]["n"] for event in receiver.accepted) == list(range(12))  # each once
        assert len(receiver.unique()) == 12 and receiver.refused_signatures == 0
    assert receivers[0].unique().keys() == receivers[1].unique().keys()


def test_a_failed_batch_is_retried_as_a_whole(hooked, receivers):
    app = hooked(WEBHOOK_BATCH_SIZE="10")
    tracker, client = app.extensions["tracker"], app.test_client()
    receivers[0].down = True
    for n in range(6):
        client.get(tracker.open_url({"n": n}).removeprefix(BASE))
    drain(app.extensions["courier"])
    assert receivers[0].accepted == [] and len(receivers[1].unique()) == 6
    store = app.extensions["store"]
    failed = [call for call in store.webhooks.all() if call.url == receivers[0].url]
    assert {(call.state, call.attempts, call.due_at) for call in failed} == {("pending", 1, failed[0].due_at)}
    receivers[0].down = False
    with store.engine.begin() as conn:  # let the backoff pass
        conn.exec_driver_sql("UPDATE webhooks SET due_at = 0 WHERE state = 'pending'")
    drain(app.extensions["courier"])
    [batch] = receivers[0].bodies
    assert sorted(event["meta"]["n"] for event in batch) == list(range(6))


def test_the_readme_receiver_takes_an_event_and_a_batch_and_drops_repeats(monkeypatch):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("\n## Tracking any email", 1)[1].split("\n## ", 1)[0]
    own_code = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)[1]
    monkeypatch.setenv("TRACKING_KEY", KEY)
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    shown: dict = {"__name__": "readme_receiver"}
    exec(compile(own_code, "README.md", "exec"), shown)
    client = shown["receiver"].test_client()
    alone = json.dumps({"id": "e1", "type": "open"}).encode()
    batch = json.dumps([{"id": "e1", "type": "open"}, {"id": "e2", "type": "click"}]).encode()
    for body in (alone, batch, batch):
        signed = {"X-Signature": webhooks.signature(SECRET, int(time.time()), body), "Content-Type": "application/json"}
        assert client.post("/read-receipts", data=body, headers=signed).status_code == 204
    assert shown["seen"] == {"e1", "e2"}
    unsigned = {"X-Signature": "t=1,v1=00", "Content-Type": "application/json"}
    assert client.post("/read-receipts", data=batch, headers=unsigned).status_code == 401


@pytest.mark.server
def test_the_served_courier_posts_batches_each_event_once(receivers, sqlite_url, tmp_path):
    receiver = receivers[0]
    service = Service(tmp_path, {"DATABASE_URL": sqlite_url, "TRACKING_KEYS": KEY, "WEBHOOK_URLS": receiver.url})
    service.env.update(WEBHOOK_SECRET=SECRET, WEBHOOK_BATCH_SIZE="10")
    service.env["PUBLIC_URL"] = service.url
    service.start()
    try:
        tracker = Tracker(service.url, (KEY,))
        for n in range(30):
            assert requests.get(tracker.open_url({"n": n}), headers=THUNDERBIRD, timeout=5).status_code == 200
        deadline = time.monotonic() + 30
        while len(receiver.unique()) < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # let any repeat arrive
    finally:
        service.kill()
    assert sorted(event["meta"]["n"] for event in receiver.accepted) == list(range(30))
    assert all(isinstance(body, list) and len(body) <= 10 for body in receiver.bodies)
    assert len(receiver.bodies) < 30 and receiver.refused_signatures == 0
