"""Tracking links for any email: pytracking's behaviours, and the holes it leaves, closed."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import requests
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from itsdangerous.encoding import base64_encode
from sqlalchemy import select

from read_receipts.intake import pixel
from read_receipts.links.rewriting import prepare_html
from read_receipts.links.tokens import (
    META_MAX,
    Link,
    MetaTooLong,
    TargetError,
    TokenError,
    Tracker,
    check_target,
    stored_meta,
)
from read_receipts.store import Stores
from read_receipts.store.schema import events
from tests.conftest import drain, unspool
from tests.test_server import THUNDERBIRD, services  # noqa: F401 (the fixture)
from tests.test_spool_server import wait_until

KEY = "k" * 40
OLD_KEY = "o" * 40
BASE = "https://pixel.example.com"


def token_of(url: str) -> str:
    """The token part of a tracking URL."""
    tail = url.split("/o/", 1)[-1] if "/o/" in url else url.split("/c/", 1)[-1]
    return tail.removesuffix(".gif")


# -- pytracking's documented behaviours ------------------------------------------------


def test_open_url_round_trip():
    tracker = Tracker(BASE, (KEY,))
    url = tracker.open_url({"customer_id": 1, "campaign": "november"})
    assert url.startswith(f"{BASE}/o/") and url.endswith(".gif")
    link = tracker.decode(token_of(url))
    assert link.meta == {"customer_id": 1, "campaign": "november"} and link.target is None


def test_click_url_round_trip():
    tracker = Tracker(BASE + "/", (KEY,))
    url = tracker.click_url("https://example.com/offer?x=1#top", {"customer_id": 1})
    assert url.startswith(f"{BASE}/c/"), "a trailing slash on the base URL loses nothing"
    link = tracker.decode(token_of(url))
    assert link.target == "https://example.com/offer?x=1#top" and link.meta == {"customer_id": 1}


def test_default_metadata_is_merged_and_can_be_overridden():
    tracker = Tracker(BASE, (KEY,), default_meta={"app": "helpdesk", "campaign": "default"})
    link = tracker.decode(token_of(tracker.open_url({"campaign": "november"})))
    assert link.meta == {"app": "helpdesk", "campaign": "november"}


def test_encrypted_links_hide_the_metadata():
    tracker = Tracker(BASE, (KEY,), (Fernet.generate_key().decode(),))
    url = tracker.open_url({"recipient": "ann@example.com"})
    assert "ann" not in url and "YW5u" not in url
    assert tracker.decode(token_of(url)).meta == {"recipient": "ann@example.com"}


# -- what pytracking lacks -------------------------------------------------------------


def test_tampered_token_is_refused():
    tracker = Tracker(BASE, (KEY,))
    token = token_of(tracker.click_url("https://example.com/", {"a": 1}))
    payload, signature = token.rsplit(".", 1)
    forged = Tracker(BASE, ("x" * 40,)).encode({"a": 1}, "https://evil.example/")
    for bad in (
        payload + "A." + signature,
        payload + "." + signature[:-2],
        forged,
        token[:20],
        "",
        "..",
        "eyJtIjp7fX0",
    ):
        with pytest.raises(TokenError):
            tracker.decode(bad)


def test_key_rotation_keeps_old_links_until_the_key_is_retired():
    old = Tracker(BASE, (OLD_KEY,))
    token = token_of(old.open_url({"n": 1}))
    assert Tracker(BASE, (KEY, OLD_KEY)).decode(token).meta == {"n": 1}
    with pytest.raises(TokenError):
        Tracker(BASE, (KEY,)).decode(token)
    new = token_of(Tracker(BASE, (KEY, OLD_KEY)).open_url({"n": 2}))
    assert Tracker(BASE, (KEY,)).decode(new).meta == {"n": 2}, "the first key signs"


def test_encryption_key_rotation_and_retirement():
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = token_of(Tracker(BASE, (KEY,), (old_key,)).open_url({"n": 1}))
    assert Tracker(BASE, (KEY,), (new_key, old_key)).decode(token).meta == {"n": 1}
    with pytest.raises(TokenError):
        Tracker(BASE, (KEY,), (new_key,)).decode(token)
    with pytest.raises(TokenError):
        Tracker(BASE, (KEY,)).decode(token)


def test_expired_link_is_refused():
    tracker = Tracker(BASE, (KEY,))
    assert tracker.decode(token_of(tracker.open_url({}, expires_in=60))).meta == {}
    with pytest.raises(TokenError):
        tracker.decode(token_of(tracker.open_url({}, expires_in=-1)))


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https:evil.com",
        "https:/evil.com",
        "https:\\\\evil.com",
        "/\\evil.com",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "%6Aavascript:alert(1)",
        "https://user:pass@evil.com",
        " https://example.com",
        "https://example.com/\r\nLocation: https://evil.com",
        "ftp://example.com/file",
        "",
    ],
)
def test_open_redirect_attempts_are_refused_at_signing(target):
    with pytest.raises(TargetError):
        Tracker(BASE, (KEY,)).click_url(target, {})
    with pytest.raises(TargetError):
        check_target(target)


@settings(max_examples=200, deadline=None)
@given(
    meta=st.dictionaries(
        st.text(max_size=12),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
            max_leaves=8,
        ),
        max_size=5,
    ),
    encrypted=st.booleans(),
)
def test_any_json_metadata_round_trips(meta, encrypted):
    keys = (Fernet.generate_key().decode(),) if encrypted else ()
    tracker = Tracker(BASE, (KEY,), keys)
    assert tracker.decode(token_of(tracker.open_url(meta))).meta == meta


@settings(max_examples=200, deadline=None)
@given(token=st.text(max_size=200))
def test_random_tokens_are_refused(token):
    with pytest.raises(TokenError):
        Tracker(BASE, (KEY,)).decode(token)


def test_a_key_shorter_than_the_service_accepts_is_refused():
    with pytest.raises(ValueError, match="at least 32 characters, as the service's TRACKING_KEYS"):
        Tracker(BASE, ("short",))
    with pytest.raises(ValueError, match="at least 32 characters"):
        Tracker(BASE, (KEY, "o" * 31))  # an old key too: it would still verify links
    with pytest.raises(TypeError, match="a sequence of secrets"):
        Tracker(BASE, KEY)
    assert Tracker(BASE, ("k" * 32,)).decode(token_of(Tracker(BASE, ("k" * 32,)).open_url({"n": 1}))).meta == {"n": 1}


@settings(max_examples=200, deadline=None)
@given(
    meta=st.dictionaries(
        st.text(max_size=5), st.text(alphabet='aé\U0001f600\n"\\', min_size=200, max_size=2100), max_size=3
    )
)
def test_metadata_is_refused_exactly_when_its_stored_form_passes_the_limit(meta):
    tracker = Tracker(BASE, (KEY,))
    if len(stored_meta(meta)) > META_MAX:
        with pytest.raises(MetaTooLong):
            tracker.open_url(meta)
    else:
        assert tracker.decode(token_of(tracker.open_url(meta))).meta == meta


@pytest.mark.parametrize(
    ("meta", "refused"),
    [
        ({"n": "\U0001f600" * 332}, False),  # 3,993 characters stored, 1,337 bytes compact
        ({"n": "\U0001f600" * 333}, True),
        ({"n": "é" * 665}, False),  # 3,999
        ({"n": "é" * 666}, True),
        ({"n": "a" * 3991}, False),  # 4,000
        ({"n": "a" * 3992}, True),
    ],
)
def test_metadata_at_the_limit(meta, refused):
    tracker = Tracker(BASE, (KEY,))
    if refused:
        with pytest.raises(MetaTooLong, match="the limit is 4000"):
            tracker.links_for(meta)
    else:
        assert tracker.decode(token_of(tracker.open_url(meta))).meta == meta


def serializer(*keys: str) -> URLSafeSerializer:
    """itsdangerous as the service has always read and written tokens (the first key signs)."""
    return URLSafeSerializer(
        list(reversed(keys)), salt="tracking-link", signer_kwargs={"digest_method": hashlib.sha256}
    )


PAYLOAD_META = st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=60), max_size=5)
TARGETS = st.sampled_from(["https://example.com/", "https://help.example.com/hc/en-us/articles/360012345?utm=a&b=c"])


@settings(max_examples=200, deadline=None)
@given(meta=PAYLOAD_META, target=st.none() | TARGETS)
def test_tokens_are_itsdangerous_tokens_both_ways(meta, target):
    tracker = Tracker(BASE, (KEY, OLD_KEY))
    payload = {"m": meta} if target is None else {"m": meta, "u": target}
    made = tracker.encode(meta, target)
    assert serializer(KEY, OLD_KEY).loads(made) == payload, "what the service has always verified"
    for old in (serializer(KEY).dumps(payload), serializer(OLD_KEY).dumps(payload)):
        assert tracker.decode(old) == Link(meta, target), "tokens made before stay valid"
    theirs = serializer(KEY).dumps(payload)
    if not made.startswith(".") and not theirs.startswith("."):  # both uncompressed: the very same bytes
        # (a 4 KB window may not shrink a payload zlib's default window does: then only theirs is compressed)
        assert made == theirs


def test_a_long_payload_is_compressed():
    meta = {"recipient": "ann.example@example.com", "campaign": "november-renewal", "segment": "november-renewal"}
    target = "https://help.example.com/hc/en-us/articles/360012345"
    token = Tracker(BASE, (KEY,)).encode(meta, target)
    plain = base64_encode(json.dumps({"m": meta, "u": target}, separators=(",", ":")))
    assert token.startswith(".") and len(token.split(".")[1]) < len(plain) - 20
    assert serializer(KEY).loads(token) == {"m": meta, "u": target}


# -- the routes --------------------------------------------------------------------------


@pytest.fixture
def tracked(make_app):
    """An app with tracking links on, and a tracker with the same key."""
    app = make_app(TRACKING_KEYS=KEY, PUBLIC_URL=BASE)
    return app, app.test_client(), app.extensions["tracker"]


def test_open_pixel_answers_the_image_and_stores_the_event(tracked):
    app, client, tracker = tracked
    url = tracker.open_url({"campaign": "november"})
    response = client.get(url.removeprefix(BASE), headers={"User-Agent": "Thunderbird/128"})
    assert response.status_code == 200 and response.data == pixel.GIF
    assert response.headers["Cache-Control"].startswith("no-store")
    unspool(app)
    [event] = app.extensions["store"].events.all()
    assert (event.kind, json.loads(event.meta), event.user_agent) == (
        "open",
        {"campaign": "november"},
        "Thunderbird/128",
    )


@pytest.mark.parametrize("path", ["/o/garbage.gif", "/o/.gif", "/o/%00%ff.gif", "/o/" + "A" * 3000 + ".gif"])
def test_bad_open_token_still_gets_the_image_and_no_event(tracked, path):
    app, client, _ = tracked
    response = client.get(path)
    assert response.status_code == 200 and response.data == pixel.GIF
    assert app.extensions["store"].events.all() == []


def test_click_redirects_to_the_signed_target_and_is_stored(tracked):
    app, client, tracker = tracked
    url = tracker.click_url("https://example.com/offer?x=1", {"campaign": "november"})
    response = client.get(url.removeprefix(BASE))
    assert response.status_code == 302 and response.headers["Location"] == "https://example.com/offer?x=1"
    unspool(app)
    [event] = app.extensions["store"].events.all("click")
    assert event.target == "https://example.com/offer?x=1"


@pytest.mark.parametrize("token", ["garbage", "eyJtIjp7fX0.abc", "//evil.com", "https:evil.com", "..%2F..%2Fetc"])
def test_invalid_click_token_gets_a_404_page_never_a_redirect(tracked, token):
    app, client, _ = tracked
    response = client.get(f"/c/{token}")
    assert response.status_code == 404 and "Location" not in response.headers
    assert app.extensions["store"].events.all() == []


def test_a_forged_token_for_an_evil_target_is_refused(tracked):
    _, client, _ = tracked
    forged = Tracker(BASE, ("attacker-key-" + "x" * 30,)).encode({}, "https://evil.example/phish")
    response = client.get(f"/c/{forged}")
    assert response.status_code == 404 and "Location" not in response.headers
    assert b"This link is not valid, or has expired." in response.data


def test_keys_never_show_in_the_trackers_repr():
    assert KEY not in repr(Tracker(BASE, (KEY,), (Fernet.generate_key().decode(),)))


def test_routes_are_off_without_keys(app):
    client = app.test_client()
    assert client.get("/o/anything.gif").data == pixel.GIF
    assert client.get("/c/anything").status_code == 404


def test_a_click_on_a_ticket_link_notes_the_ticket_without_a_zendesk_lookup(tracked, zendesk):
    app, client, tracker = tracked
    url = tracker.click_url("https://example.com/help", {"ticket_id": 42, "comment_id": 77})
    client.get(url.removeprefix(BASE), headers={"User-Agent": "Thunderbird/128"})
    drain(app.extensions["courier"])
    [note] = zendesk.notes_on(42)
    assert "the requester opened a reply on this ticket in Thunderbird" in note.body
    assert zendesk.count_calls("GET") == 0, "the signature is the proof"


def test_sign_url_command_prints_a_working_link(tracked):
    app, client, _ = tracked
    runner = app.test_cli_runner()
    url = runner.invoke(args=["sign-url", "--click", "https://example.com/", "--meta", "campaign=nov"]).output.strip()
    response = client.get(url.removeprefix(BASE))
    assert response.status_code == 302 and response.headers["Location"] == "https://example.com/"
    refused = runner.invoke(args=["sign-url", "--click", "javascript:alert(1)"])
    assert refused.exit_code == 2 and "absolute http(s) URLs" in refused.output
    open_url = runner.invoke(args=["sign-url", "--meta", "ticket_id=42", "--expires-days", "30"]).output.strip()
    assert app.extensions["tracker"].decode(open_url.removeprefix(BASE + "/o/").removesuffix(".gif")).meta == {
        "ticket_id": "42"
    }


def test_short_or_malformed_keys_stop_start_up():
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings({"TRACKING_KEYS": "short"})
    with pytest.raises(ConfigError, match="Fernet keys"):
        load_settings({"TRACKING_KEYS": KEY, "TRACKING_ENCRYPTION_KEYS": "not-a-key"})


def test_rewrite_html_command_tracks_a_file(tracked, tmp_path):
    app, client, tracker = tracked
    email = tmp_path / "reply.html"
    email.write_text('<!doctype html><body><p>See <a href="https://example.com/kb">this</a></p></body>')
    result = app.test_cli_runner().invoke(args=["rewrite-html", str(email), "--meta", "ticket_id=42"])
    assert result.exit_code == 0
    assert result.output.startswith('<!doctype html><body><img src="https://pixel.example.com/o/')
    click_url = re.search(r'href="(https://pixel\.example\.com/c/[^"]+)"', result.output).group(1)
    response = client.get(click_url.removeprefix(BASE))
    assert response.headers["Location"] == "https://example.com/kb"


@pytest.mark.server
def test_a_campaigns_copies_are_verified_by_the_running_service(services, zendesk, sqlite_url):  # noqa: F811
    key = "campaign-test-key-" + "k" * 20
    service = services({"DATABASE_URL": sqlite_url, "TRACKING_KEYS": key, **zendesk.env()})
    tracker = Tracker(service.url, (key,))
    email = (
        '<body><a href="https://example.com/offer?a=1&amp;b=2">offer</a> <a href="https://example.com/kb">kb</a></body>'
    )
    template = prepare_html(email)
    readers = [f"reader-{n}@example.com" for n in range(3)]
    for reader in readers:
        copy = template.render(tracker, {"campaign": "november", "recipient": reader})
        [pixel_url] = re.findall(r'<img src="([^"]+)"', copy)
        assert requests.get(pixel_url, headers=THUNDERBIRD, timeout=5).content == pixel.GIF
        clicked = [
            requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
            for url in re.findall(r'href="([^"]+)"', copy)
        ]
        assert clicked == ["https://example.com/offer?a=1&b=2", "https://example.com/kb"]
    made_before = serializer(key).dumps({"m": {"campaign": "october", "recipient": "ann@example.com"}})
    assert requests.get(f"{service.url}/o/{made_before}.gif", timeout=5).content == pixel.GIF
    store = Stores(sqlite_url)

    def stored() -> list[tuple[str, str]]:
        with store.reading() as conn:
            rows = conn.execute(select(events.c.kind, events.c.meta)).all()
        return sorted((kind, json.loads(meta)["recipient"]) for kind, meta in rows)

    expected = sorted(
        [("open", r) for r in readers] + [("click", r) for r in readers] * 2 + [("open", "ann@example.com")]
    )
    assert wait_until(lambda: stored() == expected, timeout=15), stored()
    store.close()
