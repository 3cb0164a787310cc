"""From pixel load to private note: verification, wording, throttling (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import Clock, drain

PIXEL = "/pixel.gif?ticket_id=42&requester_id=7&comment_id=9001"


@pytest.fixture
def service(make_app, database_url):
    """An app on each backend, with a settable courier clock."""

    def build(**env):
        app = make_app(database_url, **env)
        courier = app.extensions["courier"]
        courier.clock = Clock(time.time())
        return app, app.test_client(), courier

    return build


def test_first_open_adds_one_private_timestamped_note(service, zendesk):
    _, client, courier = service()
    assert client.get(PIXEL).status_code == 200
    drain(courier)
    [note] = zendesk.notes_on(42)
    assert note.public is False
    assert re.fullmatch(
        r"Read receipt: the requester opened the email with reply #9001 in Thunderbird on \d{4}-\d\d-\d\d at \d\d:\d\d UTC\.",
        note.body,
    )
    assert zendesk.violations == []


def test_note_time_is_in_the_configured_zone(service, zendesk):
    _, client, courier = service(NOTE_TIMEZONE="Asia/Tokyo")
    client.get(PIXEL)
    drain(courier)
    assert zendesk.notes_on(42)[0].body.endswith(" JST.")


def test_unknown_reply_placeholder_is_not_an_error(service, zendesk):
    _, client, courier = service()
    response = client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id={{ticket.latest_public_comment.id}}")
    assert response.status_code == 200
    drain(courier)
    assert "the email with a reply in Thunderbird on" in zendesk.notes_on(42)[0].body


def test_tag_is_added_never_replacing_tags(service, zendesk):
    _, client, courier = service(NOTE_TAG="reply_opened")
    client.get(PIXEL)
    drain(courier)
    assert zendesk.notes_on(42)[0].tags == ["reply_opened"]
    assert zendesk.tickets[42]["tags"] == ["reply_opened"]
    assert zendesk.violations == []


@pytest.mark.parametrize(
    "query",
    [
        "ticket_id=42&requester_id=8",  # someone else's ticket
        "ticket_id=43&requester_id=7",  # no such ticket
        "ticket_id=42",  # no requester to check
        "ticket_id=42&requester_id={{ticket.requester.id}}",
    ],
)
def test_open_that_does_not_match_zendesk_makes_no_note(service, zendesk, query):
    _, client, courier = service()
    assert client.get(f"/pixel.gif?{query}").status_code == 200
    drain(courier)
    assert zendesk.comments == []


def test_each_ticket_is_checked_once(service, zendesk):
    _, client, courier = service()
    for comment in (1, 2, 3):
        client.get(f"/pixel.gif?ticket_id=42&requester_id=7&comment_id={comment}")
    client.get("/pixel.gif?ticket_id=42&requester_id=8")
    drain(courier)
    assert zendesk.count_calls("GET", "/api/v2/tickets/42") == 1
    assert zendesk.count_calls("GET") == 2, "and its comments read once, for the three replies"
    assert len(zendesk.notes_on(42)) == 3


def test_plain_ticket_form_works_when_verification_is_off(service, zendesk):
    _, client, courier = service(VERIFY_REQUESTER="false")
    client.get("/pixel.gif?ticket_id=42")
    drain(courier)
    assert zendesk.count_calls("GET") == 0
    assert len(zendesk.notes_on(42)) == 1


def test_repeat_opens_make_one_summary_per_interval(service, zendesk):
    _, client, courier = service()
    for _ in range(300):
        client.get(PIXEL)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1
    courier.clock.advance(30 * 60)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 1, "no second note within the hour"
    courier.clock.advance(31 * 60)
    drain(courier)
    first, summary = zendesk.notes_on(42)
    assert "was opened 299 more times since the last note, most recently on" in summary.body
    client.get(PIXEL)
    drain(courier)
    courier.clock.advance(61 * 60)
    drain(courier)
    assert "was opened once more since the last note" in zendesk.notes_on(42)[2].body
    courier.clock.advance(3 * 3600)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 3, "no note without new opens"


def test_different_replies_each_get_their_first_note(service, zendesk):
    _, client, courier = service()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1")
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=2")
    drain(courier)
    bodies = [note.body for note in zendesk.notes_on(42)]
    assert any("reply #1 " in body for body in bodies) and any("reply #2 " in body for body in bodies)


def test_dry_run_logs_the_note_it_would_post(make_app, caplog):
    app = make_app(ZENDESK_URL=None, ZENDESK_EMAIL=None, ZENDESK_API_TOKEN=None)
    assert app.extensions["settings"].dry_run
    app.test_client().get(PIXEL)
    with caplog.at_level("INFO"):
        drain(app.extensions["courier"])
    said = "dry run: no note posted to ticket 42 (no Zendesk credentials); it would say: Read receipt: the requester opened"
    assert said in caplog.text
    assert "note added" not in caplog.text, "one line, saying what happened"
