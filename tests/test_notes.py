"""From pixel load to private note: verification, wording, throttling (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.conftest import Clock, drain
from tests.test_server import services  # noqa: F401 (the fixture)

PIXEL = "/pixel.gif?ticket_id=42&requester_id=7&comment_id=9001"
APPLE_MPP = {"User-Agent": "Mozilla/5.0"}
# When the stand-in's reply 9001 was written (by Ann), as the notes say it in English and German (UTC)
REPLY_9001 = "your reply of Sat, Nov 28, 7:04 PM, by Ann"
REPLY_9001_DE = "Ihre Antwort vom Sa., 28. Nov., 19:04 von Ann"
AT = r"[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2} at \d{1,2}:\d\d [AP]M UTC"  # when it was opened: now
AT_DE = r"[A-Z][a-z]\., \d{1,2}\. [A-Z][a-zä]{2,3}\.? um \d\d:\d\d UTC"


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
    assert re.fullmatch(rf"Read receipt: the requester opened {REPLY_9001} in Thunderbird on {AT}\.", note.body)
    assert zendesk.violations == []


def test_the_note_is_in_the_team_s_language(service, zendesk):
    _, client, courier = service(NOTE_LANGUAGE="de")
    client.get(PIXEL)
    drain(courier)
    [note] = zendesk.notes_on(42)
    assert re.fullmatch(
        rf"Lesebestätigung: Der Anfragende hat {REPLY_9001_DE} in Thunderbird am {AT_DE} geöffnet\.", note.body
    )


def test_a_ticket_with_people_in_copy_says_any_of_them_could_have_opened_it(service, zendesk):
    zendesk.add_ticket(43, requester_id=7, replies=[5], email_ccs=[8, 9], collaborators=[10])
    zendesk.add_ticket(44, requester_id=7, replies=[5], collaborators=[8])  # an account without email CCs
    _, client, courier = service()
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=5")
    client.get("/pixel.gif?ticket_id=44&requester_id=7&comment_id=5")
    drain(courier)
    assert (
        "Read receipt: the requester or one of the 2 people in copy opened your reply of"
        in zendesk.notes_on(43)[0].body
    )
    assert "Read receipt: the requester or the person in copy opened your reply of" in zendesk.notes_on(44)[0].body


def test_apple_preloads_get_the_preload_tag_and_a_summary_says_what_the_loads_were(service, zendesk):
    _, client, courier = service(NOTE_TAG="reply_opened", PRELOAD_TAG="reply_preloaded")
    client.get(PIXEL, headers=APPLE_MPP)
    drain(courier)
    [preload] = zendesk.notes_on(42)
    assert preload.tags == ["reply_preloaded"]
    assert re.fullmatch(
        rf"Read receipt: Apple Mail loaded the images of {REPLY_9001} on {AT}\. Apple preloads mail for privacy, "
        r"so this shows delivery to Apple Mail, not that anyone read it\.",
        preload.body,
    )
    client.get(PIXEL, headers=APPLE_MPP)
    client.get(PIXEL, headers=APPLE_MPP)
    drain(courier)
    courier.clock.advance(61 * 60)
    drain(courier)
    summary = zendesk.notes_on(42)[1]
    assert re.fullmatch(
        rf"Read receipt: {REPLY_9001} was preloaded 2 more times by Apple Mail since the last note, most recently on {AT}\.",
        summary.body,
    )
    assert summary.tags == ["reply_preloaded"]
    assert zendesk.tickets[42]["tags"] == ["reply_preloaded"], "no reply_opened: nobody read it yet"
    client.get(PIXEL)  # the requester reads it: a note at once, with the read tag
    client.get(PIXEL)
    client.get(PIXEL, headers=APPLE_MPP)
    drain(courier)
    read = zendesk.notes_on(42)[2]
    assert read.tags == ["reply_opened"] and "Read receipt: the requester opened" in read.body
    courier.clock.advance(61 * 60)
    drain(courier)
    last = zendesk.notes_on(42)[3]
    assert "was read once more by a person and preloaded once more by Apple Mail since the last note" in last.body
    assert last.tags == ["reply_opened"]
    assert zendesk.violations == []


def test_a_machine_only_reply_and_a_read_one_have_their_status(service, zendesk):
    app, client, courier = service(NOTE_KINDS="person")
    scanner = {"User-Agent": "Barracuda Sentinel (EE)"}
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1", headers=scanner)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=2", headers=APPLE_MPP)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers=APPLE_MPP)
    drain(courier)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3")
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3")
    drain(courier)
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=3", headers=scanner)  # never moves it back
    drain(courier)
    statuses = {s.reply_key: s for s in app.extensions["store"].replies.statuses(42)}
    assert {key: s.status for key, s in statuses.items()} == {1: "machines", 2: "preloaded", 3: "read"}
    assert (statuses[3].reads, statuses[3].client, statuses[3].author) == (2, "Thunderbird", "Ann")
    assert statuses[3].written_at == zendesk.written_at(3) and statuses[1].first_read_at is None
    assert len(zendesk.notes_on(42)) == 1, "NOTE_KINDS=person: only the read is noted"


def test_note_time_is_in_the_configured_zone(service, zendesk):
    _, client, courier = service(NOTE_TIMEZONE="Asia/Tokyo")
    client.get(PIXEL)
    drain(courier)
    assert zendesk.notes_on(42)[0].body.endswith(" JST.")
    assert "your reply of Sun, Nov 29, 4:04 AM, by Ann" in zendesk.notes_on(42)[0].body, "the reply's time too"


def test_unknown_reply_placeholder_is_not_an_error(service, zendesk):
    _, client, courier = service()
    response = client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id={{ticket.latest_public_comment.id}}")
    assert response.status_code == 200
    drain(courier)
    assert "the requester opened a reply on this ticket in Thunderbird on" in zendesk.notes_on(42)[0].body


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
    assert "was read 299 more times by a person since the last note, most recently on" in summary.body
    client.get(PIXEL)
    drain(courier)
    courier.clock.advance(61 * 60)
    drain(courier)
    assert "was read once more by a person since the last note" in zendesk.notes_on(42)[2].body
    courier.clock.advance(3 * 3600)
    drain(courier)
    assert len(zendesk.notes_on(42)) == 3, "no note without new opens"


def test_different_replies_each_get_their_first_note(service, zendesk):
    _, client, courier = service()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1")
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=2")
    drain(courier)
    bodies = [note.body for note in zendesk.notes_on(42)]
    assert any("your reply of Sun, Nov 22, 1:04 PM, by Ann in" in body for body in bodies)
    assert any("your reply of Sun, Nov 22, 1:05 PM, by Ann in" in body for body in bodies)


def test_dry_run_logs_the_note_it_would_post(make_app, caplog):
    app = make_app(ZENDESK_URL=None, ZENDESK_EMAIL=None, ZENDESK_API_TOKEN=None)
    assert app.extensions["settings"].dry_run
    app.test_client().get(PIXEL)
    with caplog.at_level("INFO"):
        drain(app.extensions["courier"])
    said = "dry run: no note posted to ticket 42 (no Zendesk credentials); it would say: Read receipt: the requester opened"
    assert said in caplog.text
    assert "note added" not in caplog.text, "one line, saying what happened"


def test_an_author_zendesk_did_not_side_load_is_read_once_and_named(service, zendesk):
    zendesk.side_loads_users = False
    zendesk.add_ticket(43, requester_id=7, replies=[9001])
    _, client, courier = service()
    client.get(PIXEL)
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=9001")
    drain(courier)
    assert all(REPLY_9001 + " in Thunderbird" in zendesk.notes_on(t)[0].body for t in (42, 43))
    assert zendesk.user_reads() == ["/api/v2/users/501.json"], "read once: the second ticket's note took it kept"
    assert zendesk.violations == []


@pytest.mark.parametrize("fault", ["unknown", 503, "drop", ("slow", 2.5)], ids=["404", "503", "drop", "timeout"])
def test_a_reply_whose_author_cannot_be_read_is_named_by_its_time(service, zendesk, fault):
    zendesk.side_loads_users = False
    zendesk.add_ticket(43, requester_id=7, replies=[9001])
    if fault == "unknown":
        zendesk.authors[(43, 9001)] = 777  # no such user: Zendesk answers 404
    else:
        zendesk.user_faults.append(fault)
    _, client, courier = service(ZENDESK_TIMEOUT="1")
    client.get("/pixel.gif?ticket_id=43&requester_id=7&comment_id=9001")
    drain(courier)
    courier.clock.advance(30)  # past the short pause every worker makes after a failed call
    drain(courier)
    [note] = zendesk.notes_on(43)
    assert re.fullmatch(
        rf"Read receipt: the requester opened your reply of Sat, Nov 28, 7:04 PM in Thunderbird on {AT}\.", note.body
    )
    assert zendesk.wait_for(lambda: len(zendesk.user_reads()) == 1) and len(zendesk.user_reads()) == 1


def test_the_newest_replies_authors_are_read_first_and_a_listing_reads_a_few(service, zendesk):
    zendesk.side_loads_users = False
    zendesk.add_ticket(44, requester_id=7, replies=[1, 2, 3, 4, 9001])
    zendesk.add_user(900, "Bo")
    zendesk.authors.update({(44, 9001): 900, **{(44, n): 600 + n for n in (1, 2, 3, 4)}})  # 601-604: no such users
    _, client, courier = service()
    client.get("/pixel.gif?ticket_id=44&requester_id=7&comment_id=9001")
    drain(courier)
    assert "your reply of Sat, Nov 28, 7:04 PM, by Bo in Thunderbird" in zendesk.notes_on(44)[0].body
    assert zendesk.user_reads() == [f"/api/v2/users/{n}.json" for n in (900, 604, 603)]  # three, the newest first


def test_an_author_read_takes_from_the_accounts_request_budget(service, zendesk):
    zendesk.side_loads_users = False
    _, client, courier = service(ZENDESK_REQUESTS_PER_MINUTE="3")
    client.get(PIXEL)
    drain(courier)  # the ticket's check, its comments and the author take the minute's three requests
    assert zendesk.user_reads() == ["/api/v2/users/501.json"] and zendesk.notes_on(42) == []
    courier.clock.advance(61)
    drain(courier)
    assert REPLY_9001 + " in Thunderbird" in zendesk.notes_on(42)[0].body


def test_the_stand_in_shows_users_to_the_api_user_only_and_knows_no_other(zendesk):
    auth = (f"{zendesk.email}/token", zendesk.token)
    url = f"{zendesk.url}/api/v2/users"
    assert requests.get(f"{url}/501.json", timeout=5).status_code == 401
    assert requests.get(f"{url}/501.json", auth=auth, timeout=5).json() == {"user": {"id": 501, "name": "Ann"}}
    assert requests.get(f"{url}/777.json", auth=auth, timeout=5).status_code == 404
    assert requests.put(f"{url}/501.json", json={}, auth=auth, timeout=5).status_code == 405


@pytest.mark.server
def test_the_service_names_an_author_zendesk_did_not_side_load(services, zendesk, sqlite_url):  # noqa: F811
    zendesk.side_loads_users = False
    service = services({"DATABASE_URL": sqlite_url, **zendesk.env()})
    assert service.load("ticket_id=42&requester_id=7&comment_id=9001").status_code == 200
    [note] = zendesk.wait_for_notes(1, timeout=20, ticket_id=42)
    assert REPLY_9001 + " in Thunderbird" in note.body, service.output()
    assert zendesk.user_reads() == ["/api/v2/users/501.json"]
