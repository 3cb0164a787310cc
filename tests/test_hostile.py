"""Hostile requests from outside, against the Procfile's gunicorn: no 5xx, no secret out, slow clients held."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from datetime import UTC, datetime

import pytest
import requests
from itsdangerous import URLSafeSerializer

from read_receipts.links.tokens import Tracker
from tests.test_server import Service
from tests.zendesk_standin import ZendeskStandIn

pytestmark = pytest.mark.server

SECRETS = {
    "ADMIN_PASSWORD": "admin-password-that-is-long",
    "API_TOKEN": "api-token-" + "a" * 32,
    "METRICS_TOKEN": "metrics-token-" + "m" * 32,
    "ZENDESK_WEBHOOK_SECRET": "zendesk-hook-secret-" + "z" * 32,
    "TRACKING_KEYS": "tracking-key-" + "k" * 32,
    "ZENDESK_API_TOKEN": "zendesk-api-token-" + "t" * 20,
}
LOGIN = ("admin", SECRETS["ADMIN_PASSWORD"])
BEARER = {"Authorization": f"Bearer {SECRETS['API_TOKEN']}"}
FLASK_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One service with every secret set, and a Zendesk stand-in."""
    tmp = tmp_path_factory.mktemp("hostile")
    zendesk = ZendeskStandIn(token=SECRETS["ZENDESK_API_TOKEN"]).start()
    zendesk.add_ticket(42, requester_id=7)
    env = {"DATABASE_URL": f"sqlite:///{tmp}/receipts.db", "ADMIN_USER": "admin", **SECRETS, **zendesk.env()}
    service = Service(tmp, env).start()
    yield service, zendesk
    service.kill()
    zendesk.stop()


def tracker(service: Service) -> Tracker:
    return Tracker(service.url, (SECRETS["TRACKING_KEYS"],))


def forged_target_token(target: str) -> str:
    """A validly signed click token whose target sign-url would refuse (as an older release might have signed)."""
    signer = URLSafeSerializer(
        [SECRETS["TRACKING_KEYS"]], salt="tracking-link", signer_kwargs={"digest_method": hashlib.sha256}
    )
    return signer.dumps({"m": {"campaign": "x"}, "u": target})


def zendesk_signed(body: bytes, stamp: str) -> dict:
    digest = hmac.new(SECRETS["ZENDESK_WEBHOOK_SECRET"].encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


SMALL_REPLY = json.dumps({"ticket_id": "42", "comment_id": "1"}).encode()
BIG = b'{"ticket_id": "42", "pad": "' + b"x" * 200_000 + b'"}'

# (method, path, request keywords, expected status)
HOSTILE = [
    ("GET", "/pixel.gif?ticket_id=%00%ff&requester_id=' OR 1=1 --", {}, 200),
    ("POST", "/pixel.gif?ticket_id=1", {"data": b"x"}, 405),
    ("GET", "/o/not-a-token.gif", {}, 200),
    ("GET", "/c/not-a-token", {}, 404),
    ("GET", "/c/" + forged_target_token("http://evil.com%0d%0aSet-Cookie:x=1"), {}, 404),
    ("GET", "/c/" + forged_target_token("http://evil.com:99999/"), {}, 404),
    ("GET", "/c/" + forged_target_token("http://evil.com/\x0bx"), {}, 404),
    ("GET", "/dashboard", {}, 401),
    ("GET", "/dashboard?to=0001-01-01", {"auth": LOGIN}, 400),
    ("GET", "/dashboard?from=9999-12-31&to=0001-01-01", {"auth": LOGIN}, 200),
    ("GET", "/api/summary?to=0001-01-01", {"headers": BEARER}, 400),
    ("GET", "/api/summary?from=nonsense", {"headers": BEARER}, 400),
    ("GET", "/api/summary?from=2000-01-01", {"headers": BEARER}, 400),
    ("GET", "/api/opens?kind=human", {"headers": BEARER}, 400),
    ("GET", "/api/opens?limit=5000", {"headers": BEARER}, 400),
    ("GET", "/api/opens?client=%00", {"headers": BEARER}, 400),
    ("GET", "/dashboard/opens?state=%00&before=x", {"auth": LOGIN}, 400),
    ("GET", "/dashboard/tickets/9223372036854775808", {"auth": LOGIN}, 404),
    ("GET", "/dashboard/tickets/" + "9" * 400, {"auth": LOGIN}, 404),
    ("GET", "/dashboard/tickets/-1", {"auth": LOGIN}, 404),
    ("GET", "/api/opens?ticket_id=²", {"headers": BEARER}, 400),
    ("GET", "/api/opens?limit=99999999999999999999999", {"headers": BEARER}, 400),
    ("GET", "/api/opens?since=0001-01-01T00:00:00%2B14:00", {"headers": BEARER}, 200),
    ("GET", "/api/opens?since=99999-01-01", {"headers": BEARER}, 400),
    ("GET", "/api/events?campaign=%25", {"headers": BEARER}, 200),
    ("GET", "/api/events?campaign=_", {"headers": BEARER}, 200),
    ("GET", "/api/opens?format=csv&kind=%00", {"headers": BEARER}, 400),
    ("POST", "/api/erasure", {"headers": BEARER, "json": {"no_such_key": None}}, 400),
    ("POST", "/api/erasure", {"headers": BEARER, "json": {"campaign": None}}, 400),
    ("POST", "/api/erasure", {"headers": BEARER, "json": {"ticket_id": None}}, 400),
    ("POST", "/api/erasure", {"headers": BEARER, "json": {"ticket_id": "abc"}}, 400),
    ("POST", "/api/erasure", {"headers": BEARER, "json": {"x": [1]}}, 400),
    ("POST", "/api/erasure", {"headers": BEARER, "json": []}, 400),
    (
        "POST",
        "/api/erasure",
        {"headers": BEARER, "data": b"\xff\xfe", "headers_extra": {"Content-Type": "application/json"}},
        400,
    ),
    ("POST", "/api/erasure", {"json": {"ticket_id": 42}}, 401),
    ("POST", "/zendesk/replies", {"data": SMALL_REPLY}, 401),
    (
        "POST",
        "/zendesk/replies",
        {"data": SMALL_REPLY, "headers": zendesk_signed(SMALL_REPLY, "2001-01-01T00:00:00Z")},
        401,
    ),
    ("POST", "/zendesk/replies", {"data": SMALL_REPLY, "headers": zendesk_signed(SMALL_REPLY, "not a time")}, 401),
    ("POST", "/zendesk/replies", {"data": BIG}, 401),
    ("POST", "/zendesk/replies", {"data": BIG, "headers": "signed-now"}, 413),
    ("POST", "/zendesk/replies", {"data": b"x" * 2_000_000}, 413),
    ("GET", "/healthz", {"data": b"x" * 2_000_000}, 413),
    ("GET", "/metrics", {}, 401),
    ("GET", "/metrics", {"headers": {"Authorization": "Bearer " + "m" * 46}}, 401),
    ("GET", "/api/summary", {"headers": {"Authorization": "Basic !!!notbase64"}}, 401),
    ("GET", "/api/summary", {"headers": {"Authorization": "Bearer \u00e9"}}, 401),
    ("GET", "/nowhere/../../etc/passwd", {}, 404),
    ("DELETE", "/healthz", {}, 405),
    ("GET", "/", {}, 200),
]


@pytest.mark.parametrize(
    ("method", "path", "options", "status"), HOSTILE, ids=[f"{m} {p[:60]}" for m, p, _, _ in HOSTILE]
)
def test_hostile_request_gets_a_4xx_and_no_secret(hostile, method, path, options, status):
    service, _ = hostile
    options = dict(options)
    headers = dict(options.pop("headers", {}) if options.get("headers") != "signed-now" else {})
    if options.get("headers") == "signed-now":
        options.pop("headers")
        headers = zendesk_signed(options["data"], now_stamp())
    headers.update(options.pop("headers_extra", {}))
    answer = requests.request(method, service.url + path, headers=headers, timeout=10, allow_redirects=False, **options)
    assert answer.status_code == status, answer.text[:300]
    shown = answer.text + json.dumps(dict(answer.headers))
    assert not any(secret in shown for secret in SECRETS.values())
    assert "Traceback" not in shown and "invalid literal" not in shown
    if not path.startswith(("/pixel.gif", "/o/", "/c/")) and answer.status_code != 413:
        assert all(name in answer.headers for name in FLASK_HEADERS), answer.headers


def test_the_log_holds_no_secret_and_no_traceback_after_the_table(hostile):
    service, _ = hostile
    requests.get(service.url + "/dashboard", auth=("admin", "a-wrong-password"), timeout=5)
    log = service.output()
    assert not any(secret in log for secret in SECRETS.values())
    assert "Traceback" not in log
    assert "login failed for user 'admin' from 127.0.0.1" in log


def test_click_links_count_clicks_only(hostile):
    service, _ = hostile
    links = tracker(service)
    open_token = links.open_url({"ticket_id": 42, "campaign": "nov"}).split("/o/")[1].removesuffix(".gif")
    click_url = links.click_url("https://example.com/offer", {"ticket_id": 42, "campaign": "nov"})
    assert requests.get(f"{service.url}/c/{open_token}", timeout=5, allow_redirects=False).status_code == 404
    assert requests.head(click_url, timeout=5, allow_redirects=False).status_code == 302
    assert requests.get(click_url, timeout=5, allow_redirects=False).headers["Location"] == "https://example.com/offer"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        campaigns = requests.get(service.url + "/api/summary", headers=BEARER, timeout=5).json()["campaigns"]
        if campaigns:
            break
        time.sleep(0.2)
    assert campaigns == [{"campaign": "nov", "open": 0, "click": 1}]


def test_repeated_login_failures_from_one_address_are_slowed(hostile):
    service, _ = hostile
    session = requests.Session()  # one kept-alive connection: one worker, whose count it is
    statuses = [
        session.get(service.url + "/dashboard", auth=("mallory", f"guess-{n}"), timeout=5).status_code for n in range(8)
    ]
    assert statuses[0] == 401 and statuses[-3:] == [429] * 3  # five free failures at most
    refused = session.get(service.url + "/dashboard", auth=LOGIN, timeout=5)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "guess-" not in service.output()


def raw_request(service: Service, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes on a socket and return the first bytes answered."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # the service answered and closed without reading: what is wanted
        return sock.recv(200)


@pytest.mark.parametrize("path", ["/zendesk/replies", "/api/erasure", "/healthz"])
def test_an_oversized_body_gets_413_without_being_read(hostile, path):
    service, _ = hostile
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n\r\n".encode()
    answer = raw_request(service, head, b"x" * 65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer


@pytest.mark.parametrize(("method", "status"), [("GET", b"200"), ("POST", b"405")])
def test_the_pixel_answers_a_request_with_a_huge_body_without_reading_it(hostile, method, status):
    service, _ = hostile
    head = f"{method} /pixel.gif?ticket_id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n\r\n".encode()
    answer = raw_request(service, head, b"x" * 65536)
    assert answer.startswith(b"HTTP/1.1 " + status), answer  # answered before the body was sent
    if method == "GET":
        assert b"Content-Type: image/gif" in answer


def test_a_chunked_body_over_the_limit_gets_413(hostile):
    service, _ = hostile

    def chunks():
        for _ in range(40):
            yield b"y" * 65536

    headers = zendesk_signed(b"", now_stamp())
    answer = requests.post(service.url + "/zendesk/replies", data=chunks(), headers=headers, timeout=10)
    assert answer.status_code == 413


def test_healthz_answers_within_a_second_while_50_slow_clients_hang(hostile):
    service, zendesk = hostile
    slow = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", service.port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slo")  # half a header, then nothing
            slow.append(sock)
        time.sleep(0.5)
        for _ in range(3):
            started = time.monotonic()
            assert requests.get(service.url + "/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < 1.0
        zendesk.add_ticket(43, requester_id=9)
        assert service.load("ticket_id=43&requester_id=9&comment_id=77").status_code == 200
        zendesk.wait_for_notes(1, ticket_id=43, timeout=15)  # the couriers still deliver
    finally:
        for sock in slow:
            sock.close()
    assert "WORKER TIMEOUT" not in service.output()
