"""The pixel itself: always the image, never cached, never a note for bad input."""

from __future__ import annotations

import struct
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from read_receipts.intake import pixel
from tests.conftest import drain, unspool


def test_pixel_is_a_43_byte_transparent_gif(app):
    response = app.test_client().get("/pixel.gif?ticket_id=42&requester_id=7")
    assert response.status_code == 200
    assert response.data == pixel.GIF and len(response.data) == 43
    assert response.data[:6] == b"GIF89a" and struct.unpack("<HH", response.data[6:10]) == (1, 1)
    assert response.data[-1:] == b";"
    assert b"\x21\xf9\x04\x01" in response.data, "graphic control extension with the transparency flag"
    assert response.content_type == "image/gif"


def test_pixel_is_never_cached_or_indexed(app):
    headers = app.test_client().get("/pixel.gif?ticket_id=42&requester_id=7").headers
    assert "no-store" in headers["Cache-Control"] and "private" in headers["Cache-Control"]
    assert "max-age=0" in headers["Cache-Control"]
    assert headers["Pragma"] == "no-cache" and headers["Expires"].endswith("1970 00:00:00 GMT")
    assert "noindex" in headers["X-Robots-Tag"]


def test_head_answers_without_a_body_or_an_open(app, zendesk):
    client = app.test_client()
    response = client.head("/pixel.gif?ticket_id=42&requester_id=7")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == "43"
    drain(app.extensions["courier"])
    assert app.extensions["store"].opens.by_id(1) is None and zendesk.comments == []


HOSTILE = [
    "",
    "ticket_id=",
    "ticket_id=abc",
    "ticket_id=-5&requester_id=7",
    "ticket_id=0&requester_id=7",
    "ticket_id=4.2&requester_id=7",
    "ticket_id=１２&requester_id=7",  # full-width digits
    "ticket_id=99999999999999999999999&requester_id=7",
    "ticket_id={{ticket.id}}&requester_id={{ticket.requester.id}}",
    "ticket_id=%00&requester_id=%ff%fe",
    "ticket_id=42%0d%0aX-Injected:%201",
    "ticket_id=42'%20OR%201=1--",
    "ticket_id=<script>alert(1)</script>",
    "ticket_id=43&ticket_id=42&requester_id=7"  # the first value counts,
    "ticket_id=../../etc/passwd",
    "ticket_id=" + "9" * 3000,
    "%zz=%zz&&&==",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_query_gets_the_image_and_no_note(app, zendesk, query):
    response = app.test_client().get(f"/pixel.gif?{query}", headers={"User-Agent": "x" * 5000})
    assert response.status_code == 200 and response.data == pixel.GIF
    drain(app.extensions["courier"])
    assert zendesk.comments == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(["ticket_id", "requester_id", "comment_id", "x"]), st.text(max_size=40)))
def test_any_query_gets_the_image(app, params):
    response = app.test_client().get("/pixel.gif", query_string=params)
    assert response.status_code == 200 and response.data == pixel.GIF


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        ("", None),
        (None, None),
        ("{{ticket.id}}", None),
        ("042", None),
        ("1" * 19, None),
        ("1" * 18, 10**18 // 9),
    ],
)
def test_zendesk_ids_are_parsed_strictly(raw, expected):
    assert pixel.zendesk_id(raw) == expected


def test_client_address_comes_through_the_configured_proxies_only(make_app, tmp_path):
    behind_proxy = make_app(PROXY_HOPS="1")
    direct = make_app(f"sqlite:///{tmp_path}/direct.db")
    forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    for app in (behind_proxy, direct):
        app.test_client().get("/pixel.gif?ticket_id=42&requester_id=7", headers=forwarded)
        unspool(app)
    assert behind_proxy.extensions["store"].opens.by_id(1).ip == "203.0.113.9"
    assert direct.extensions["store"].opens.by_id(1).ip == "127.0.0.1"


def test_open_is_spooled_before_the_answer_and_stored_by_the_courier(app):
    client = app.test_client()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers={"User-Agent": "Thunderbird/128"})
    assert app.extensions["store"].opens.by_id(1) is None
    assert client.get("/healthz").json["spool"]["bytes"] > 0
    unspool(app)
    stored = app.extensions["store"].opens.by_id(1)
    assert (stored.ticket_id, stored.requester_id, stored.comment_id, stored.user_agent) == (
        42,
        7,
        3,
        "Thunderbird/128",
    )


def test_healthz_reports_the_store(app):
    client = app.test_client()
    spool = {"bytes": 0, "oldest_seconds": 0.0, "max_bytes": 1024 * 2**20, "full": False}
    assert client.get("/healthz").json == {"status": "ok", "store": "ok", "spool": spool}
    store = app.extensions["store"]
    store.engine.dispose()
    store.engine = create_engine("sqlite:////nonexistent/dir/receipts.db")  # the disk went away
    response = client.get("/healthz")  # the pixel still has its spool: degraded, not failing
    assert response.status_code == 200 and response.json["status"] == "degraded"
    assert response.json["store"] == "unreachable"


def test_unknown_route_and_method_get_json_errors(app):
    client = app.test_client()
    assert client.get("/nope").json["error"]["status"] == 404
    assert client.post("/pixel.gif").status_code == 405


_QUERY_PARTS = st.sampled_from(
    [*"&=+%2Fabcdeiklmnopqrstu_0123456789", "ticket_id", "requester_id", "comment_id", "sent", "%5F", "%3D", "%26"]
)


@settings(max_examples=2000)
@given(st.lists(_QUERY_PARTS, max_size=40).map("".join))
def test_the_pixel_reads_its_fields_as_parse_qsl_does(query):
    try:
        pairs = parse_qsl(query, max_num_fields=20)
    except ValueError:  # more fields than any pixel URL: no open
        pairs = []
    expected: dict[str, str] = {}
    for key, value in pairs:
        expected.setdefault(key, value)
    wanted = {"ticket_id", "requester_id", "comment_id", "sent"}
    assert pixel._first_values(query) == {key: value for key, value in expected.items() if key in wanted}
