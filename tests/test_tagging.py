"""Replies not opened: the tag of tickets whose reply no person read in time, and the last-read field.

The job runs on its own over a real store and the Zendesk stand-in, on a clock the test sets; the
last test runs the Procfile's gunicorn.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from config import load_settings
from read_receipts.delivery.tagging import Tagging
from read_receipts.insights.explanations import unread_tag_line
from read_receipts.store.opt_outs import OptOuts
from read_receipts.store.reply_statuses import ReplyStatus
from read_receipts.store.ticket_updates import TicketUpdateState, queue_reads
from read_receipts.store.tickets import TicketStatus
from tests.conftest import Clock
from tests.jobs import LEASE, parts, record_open, run_until_idle
from tests.test_dashboard import ADMIN, LOGIN
from tests.test_server import THUNDERBIRD, Service, services  # noqa: F401 (the fixture)

HOUR = 3600.0
FIELD = 360001
APPLE_PRELOAD = "Mozilla/5.0"  # Apple Mail Privacy Protection: a machine, not a person
SCANNER = "Barracuda Sentinel (EE)"


def worker_of(database_url, zendesk, **env):
    """A worker whose replies go unread after an hour, and whose reads set the field FIELD."""
    zendesk.add_field(FIELD, "date")
    settings = {"UNOPENED_AFTER_HOURS": "1", "READ_FIELD_ID": str(FIELD), **env}
    return parts(database_url, zendesk, **settings)


def tagging_at(worker, start: float) -> tuple[Tagging, Clock]:
    """The tagging job and the clock it runs on (never behind the real time triage records reads at)."""
    clock = Clock(start)
    return worker.tagging(clock), clock


def run(tagging: Tagging, clock: Clock, rounds: int = 10) -> None:
    """Run the job's rounds at the clock's time until one moves nothing (a new scan is due each call)."""
    tagging._next_scan = 0.0
    for _ in range(rounds):
        if not tagging.run(clock()):
            return


def read_by_a_person(worker, clock: Clock, ticket_id: int, reply: int, at: float) -> None:
    """A person opens a reply, and triage counts it at the clock's time (the read reaches the ticket's update)."""
    record_open(worker, ticket_id, 7, comment_id=reply, opened_at=at)
    triage = worker.triage()
    for _ in range(50):
        if not triage.run(clock()):
            return


def day(moment: float) -> str:
    """A moment's UTC date, as a Zendesk date field takes it."""
    return datetime.fromtimestamp(moment, UTC).date().isoformat()


def test_an_unread_reply_tags_its_ticket_after_the_set_time_and_a_read_removes_the_tag(database_url, zendesk):
    worker = worker_of(database_url, zendesk)
    tagging, clock = tagging_at(worker, time.time())
    sent = clock() - HOUR + 60
    worker.stores.events.record_reply_sent(42, 9001, sent)  # known from Zendesk's webhook only: no opens at all
    run(tagging, clock)
    assert zendesk.updates_of(42) == []  # not yet an hour
    clock.advance(120)
    run(tagging, clock)
    assert zendesk.updates_of(42) == [{"additional_tags": ["reply_unopened"]}]
    assert zendesk.tags_of(42) == ["reply_unopened"]
    run(tagging, clock)
    assert len(zendesk.updates_of(42)) == 1  # marked once, sent once

    read_at = sent + HOUR + 90
    read_by_a_person(worker, clock, 42, 9001, read_at)
    run(tagging, clock)
    assert zendesk.updates_of(42)[1:] == [
        {"remove_tags": ["reply_unopened"], "custom_fields": [{"id": FIELD, "value": day(read_at)}]}
    ]
    assert zendesk.tags_of(42) == [] and zendesk.field_of(42, FIELD) == day(read_at)
    assert worker.stores.tallies.figures(clock())["tallies"]["ticket_updates:done"] == 2
    row = worker.stores.ticket_updates.of_ticket(42)
    assert (row.state, row.tag_sent, row.field_sent) == (TicketUpdateState.DONE, None, day(read_at))
    clock.advance(3 * HOUR)
    run(tagging, clock)  # a read reply never tags its ticket again
    assert len(zendesk.updates_of(42)) == 2 and zendesk.violations == []
    worker.stores.close()


def test_a_reply_only_apples_preloader_fetched_counts_as_not_read(database_url, zendesk):
    worker = worker_of(database_url, zendesk)
    sent = time.time() - 3 * HOUR
    record_open(worker, 42, 7, comment_id=9001, user_agent=APPLE_PRELOAD, sent=str(int(sent)), opened_at=sent + 5)
    run_until_idle(worker.triage().run)
    assert worker.stores.replies.get(42, 9001).sent_at == int(sent)
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    assert zendesk.tags_of(42) == ["reply_unopened"]
    assert zendesk.updates_of(42)[-1] == {"additional_tags": ["reply_unopened"]}  # the preload set no read field
    assert zendesk.violations == []
    worker.stores.close()


def test_the_tag_follows_the_reply_status_whatever_gets_a_note(database_url, zendesk):
    zendesk.add_ticket(43, requester_id=8)
    worker = worker_of(database_url, zendesk, NOTE_KINDS="apple_preload", READ_FIELD_ID="")  # a person's read: no note
    sent = time.time() - 3 * HOUR
    worker.stores.events.record_reply_sent(42, 9001, sent)
    scanned = {"user_agent": SCANNER, "sent": str(int(sent)), "opened_at": sent + 5}
    record_open(worker, 43, 8, comment_id=9002, **scanned)  # only a scanner loaded it: known through its pixel
    run_until_idle(worker.triage().run)
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    assert [s.status for s in worker.stores.replies.statuses(43)] == [ReplyStatus.MACHINES]
    assert zendesk.tags_of(42) == ["reply_unopened"] and zendesk.tags_of(43) == ["reply_unopened"]

    read_by_a_person(worker, clock, 42, 9001, clock())
    assert [s.status for s in worker.stores.replies.statuses(42)] == [ReplyStatus.READ]
    assert zendesk.notes_on(42) == []  # NOTE_KINDS leaves the read without a note ...
    run(tagging, clock)
    assert zendesk.tags_of(42) == []  # ... and the reply is read all the same
    clock.advance(3 * HOUR)
    run(tagging, clock)
    assert zendesk.tags_of(42) == [] and zendesk.tags_of(43) == ["reply_unopened"]
    assert [list(body) for body in zendesk.updates_of(42)] == [["additional_tags"], ["remove_tags"]]
    worker.stores.close()


def test_a_read_before_the_tag_was_sent_means_nothing_is_sent(database_url, zendesk):
    worker = worker_of(database_url, zendesk, READ_FIELD_ID="")
    sent = time.time() - 3 * HOUR
    worker.stores.events.record_reply_sent(42, 9001, sent)
    tagging, clock = tagging_at(worker, time.time())
    assert tagging.mark_unread(clock()) is True  # the tag is wanted ...
    read_by_a_person(worker, clock, 42, 9001, sent + HOUR + 20)  # ... and unwanted again before it went out
    run(tagging, clock)
    assert zendesk.count_calls("PUT") == 0
    assert worker.stores.ticket_updates.of_ticket(42).state == TicketUpdateState.SKIPPED
    worker.stores.close()


def test_a_later_reply_read_removes_the_tag_an_earlier_one_left(database_url, zendesk):
    worker = worker_of(database_url, zendesk, READ_FIELD_ID="")
    first = time.time() - 10 * HOUR
    worker.stores.events.record_reply_sent(42, 1, first)
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    assert zendesk.tags_of(42) == ["reply_unopened"]
    worker.stores.events.record_reply_sent(42, 2, first + 3 * HOUR)
    read_by_a_person(worker, clock, 42, 2, first + 4 * HOUR)
    clock.advance(4 * HOUR)
    run(tagging, clock)
    assert zendesk.tags_of(42) == []  # the requester reads again; the older reply does not tag it anew
    assert [list(body) for body in zendesk.updates_of(42)] == [["additional_tags"], ["remove_tags"]]
    worker.stores.close()


def test_tag_updates_wait_for_the_tickets_window_notes_share(database_url, zendesk):
    worker = worker_of(database_url, zendesk, ZENDESK_UPDATES_PER_TICKET="1")
    sent = time.time() - 3 * HOUR
    worker.stores.events.record_reply_sent(42, 9001, sent)
    tagging, clock = tagging_at(worker, time.time())
    assert worker.pacing.gate(clock(), note_for=42) == 0.0  # a note took the ticket's one update
    run(tagging, clock)
    assert zendesk.count_calls("PUT") == 0
    row = worker.stores.ticket_updates.of_ticket(42)
    assert (row.state, row.attempts) == (TicketUpdateState.PENDING, 0)  # not claimed while the window is full
    clock.advance(601)
    run(tagging, clock)
    assert zendesk.tags_of(42) == ["reply_unopened"] and zendesk.violations == []
    worker.stores.close()


def test_the_accounts_updates_a_minute_pace_tags_of_many_tickets(database_url, zendesk):
    for ticket_id in range(100, 105):
        zendesk.add_ticket(ticket_id, requester_id=ticket_id)
    worker = worker_of(database_url, zendesk, ZENDESK_UPDATES_PER_MINUTE="3")
    sent = time.time() - 3 * HOUR
    for ticket_id in range(100, 105):
        worker.stores.events.record_reply_sent(ticket_id, 1, sent)
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock, rounds=20)
    assert zendesk.count_calls("PUT") == 3
    clock.advance(61)
    run(tagging, clock, rounds=20)
    assert zendesk.count_calls("PUT") == 5
    assert all(zendesk.tags_of(ticket_id) == ["reply_unopened"] for ticket_id in range(100, 105))
    worker.stores.close()


def test_closed_and_deleted_tickets_are_final_and_recorded(database_url, zendesk):
    zendesk.add_ticket(43, requester_id=8, status="closed")
    worker = worker_of(database_url, zendesk)
    sent = time.time() - 3 * HOUR
    for ticket_id in (43, 77):  # the stand-in has no ticket 77
        worker.stores.events.record_reply_sent(ticket_id, 1, sent)
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    closed, gone = (worker.stores.ticket_updates.of_ticket(t) for t in (43, 77))
    assert (closed.state, closed.last_status, closed.tag_sent) == (TicketUpdateState.FAILED, 422, None)
    assert (gone.state, gone.last_status) == (TicketUpdateState.FAILED, 404)
    assert worker.stores.tickets.cached(43).status == TicketStatus.CLOSED
    assert worker.stores.tickets.cached(77).status == TicketStatus.DELETED
    assert zendesk.count_calls("PUT") == 2
    worker.stores.close()


def test_rate_limits_and_outages_are_retried(database_url, zendesk):
    worker = worker_of(database_url, zendesk)
    sent = time.time() - 3 * HOUR
    worker.stores.events.record_reply_sent(42, 9001, sent)
    tagging, clock = tagging_at(worker, time.time())
    zendesk.fail_next((429, 7))
    run(tagging, clock)
    row = worker.stores.ticket_updates.of_ticket(42)
    assert (row.state, row.attempts, row.last_status) == (TicketUpdateState.PENDING, 1, 429)
    assert row.due_at == pytest.approx(clock() + 7, abs=1)
    clock.advance(8)
    zendesk.fail_next(503)
    run(tagging, clock)
    assert worker.stores.ticket_updates.of_ticket(42).last_status == 503
    clock.advance(120)
    run(tagging, clock)
    assert zendesk.tags_of(42) == ["reply_unopened"]
    assert worker.stores.ticket_updates.of_ticket(42).state == TicketUpdateState.DONE
    worker.stores.close()


def test_an_update_whose_answer_was_lost_is_looked_up_on_the_ticket_and_not_sent_again(database_url, zendesk):
    worker = worker_of(database_url, zendesk, ZENDESK_TIMEOUT="1")
    sent = time.time() - 3 * HOUR
    worker.stores.events.record_reply_sent(42, 9001, sent)
    tagging, clock = tagging_at(worker, time.time())
    zendesk.fail_next(("slow", 2))  # Zendesk applies the update after the service stopped waiting for the answer
    run(tagging, clock)
    row = worker.stores.ticket_updates.of_ticket(42)
    assert (row.state, row.attempts, row.last_status) == (TicketUpdateState.PENDING, 1, None)
    assert "Zendesk's answer never came: it may be on the ticket" in unread_tag_line(row, worker.settings)
    deadline = time.time() + 5
    while not zendesk.tags_of(42) and time.time() < deadline:
        time.sleep(0.05)
    assert zendesk.tags_of(42) == ["reply_unopened"], "Zendesk did apply it"
    clock.advance(120)
    run(tagging, clock)
    row = worker.stores.ticket_updates.of_ticket(42)
    assert row.state == TicketUpdateState.DONE and row.tag_sent == "reply_unopened"
    assert len(zendesk.updates_of(42)) == 1, "the update was found on the ticket, not sent a second time"
    assert unread_tag_line(row, worker.settings).startswith("Unread tag: tagged reply_unopened since ")
    worker.stores.close()


def test_an_update_sent_by_a_worker_killed_before_the_answer_is_looked_up_after_its_lease(database_url, zendesk):
    worker = worker_of(database_url, zendesk)
    worker.stores.events.record_reply_sent(42, 9001, time.time() - 3 * HOUR)
    tagging, clock = tagging_at(worker, time.time())
    tagging.mark_unread(clock())
    (row,) = worker.stores.ticket_updates.claim(clock(), LEASE, limit=1)
    worker.stores.ticket_updates.record_try(row)  # the worker sent the update, then was killed
    zendesk.tickets[42]["tags"] = ["reply_unopened"]  # ... and Zendesk had applied it
    clock.advance(LEASE + 1)
    run(tagging, clock)
    row = worker.stores.ticket_updates.of_ticket(42)
    assert row.state == TicketUpdateState.DONE and row.tag_sent == "reply_unopened"
    assert zendesk.updates_of(42) == [], "found on the ticket after the lease ran out, not sent again"
    worker.stores.close()


def test_a_lost_answer_whose_update_never_arrived_is_sent_again(database_url, zendesk):
    worker = worker_of(database_url, zendesk, ZENDESK_TIMEOUT="1")
    worker.stores.events.record_reply_sent(42, 9001, time.time() - 3 * HOUR)
    tagging, clock = tagging_at(worker, time.time())
    zendesk.fail_next("drop")  # the connection drops before Zendesk applies anything
    run(tagging, clock)
    assert worker.stores.ticket_updates.of_ticket(42).attempts == 1 and zendesk.tags_of(42) == []
    clock.advance(120)
    run(tagging, clock)
    assert zendesk.tags_of(42) == ["reply_unopened"] and len(zendesk.updates_of(42)) == 1
    assert worker.stores.ticket_updates.of_ticket(42).state == TicketUpdateState.DONE
    worker.stores.close()


def test_ticket_updates_waiting_out_an_outage_go_as_soon_as_zendesk_answers_again(database_url, zendesk):
    zendesk.add_ticket(43, requester_id=8)
    worker = worker_of(database_url, zendesk, READ_FIELD_ID="")
    worker.stores.events.record_reply_sent(42, 9001, time.time() - 3 * HOUR)
    tagging, clock = tagging_at(worker, time.time())
    zendesk.down = True
    for _ in range(6):  # each failed try waits longer: the sixth half a minute or more
        run(tagging, clock)
        clock.advance(61)
    run(tagging, clock)
    row = worker.stores.ticket_updates.of_ticket(42)
    assert (row.state, row.attempts, row.last_status) == (TicketUpdateState.PENDING, 7, None)
    assert row.due_at >= clock() + 30

    zendesk.down = False
    clock.advance(6)  # past the short pause after the last failed call, long before the update's next try
    record_open(worker, 43, 8, comment_id=1, opened_at=clock())  # a read to note: its ticket check answers first
    triage, posting = worker.triage(), worker.posting()
    for _ in range(20):
        moved = [triage.run(clock()), posting.send_note(clock()), tagging.run(clock())]
        if not any(moved):
            break
    assert zendesk.tags_of(42) == ["reply_unopened"], "the update went with the note, not after its backoff"
    assert len(zendesk.notes_on(43)) == 1 and zendesk.updates_of(42) == [{"additional_tags": ["reply_unopened"]}]
    worker.stores.close()


def test_zero_hours_turns_the_tag_off_but_reads_still_set_the_field(database_url, zendesk):
    worker = worker_of(database_url, zendesk, UNOPENED_AFTER_HOURS="0")
    sent = time.time() - 30 * HOUR
    worker.stores.events.record_reply_sent(42, 9001, sent)
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    assert zendesk.count_calls("PUT") == 0
    read_by_a_person(worker, clock, 42, 9001, sent + 20 * HOUR)
    run(tagging, clock)
    assert zendesk.updates_of(42) == [{"custom_fields": [{"id": FIELD, "value": day(sent + 20 * HOUR)}]}]
    worker.stores.close()


def test_the_stand_in_flags_an_update_that_sends_tags(zendesk):
    zendesk.add_field(FIELD, "date")
    url, auth = f"{zendesk.url}/api/v2/tickets/42.json", (f"{zendesk.email}/token", zendesk.token)
    assert requests.put(url, json={"ticket": {"tags": ["x"]}}, auth=auth, timeout=5).status_code == 200
    bad_date = {"ticket": {"custom_fields": [{"id": FIELD, "value": "1 Dec"}]}}
    assert requests.put(url, json=bad_date, auth=auth, timeout=5).status_code == 422
    assert zendesk.violations == ["sent `tags`, which replaces every tag on the ticket"]


@pytest.mark.server
def test_the_service_tags_an_unread_reply_and_a_read_removes_the_tag(database_url, zendesk, tmp_path):
    zendesk.add_field(FIELD, "date")
    zendesk.add_ticket(42, requester_id=7, replies=[9001])
    env = {"DATABASE_URL": database_url, "UNOPENED_AFTER_HOURS": "0.001", "READ_FIELD_ID": str(FIELD)}
    service = Service(tmp_path, {**env, **zendesk.env()}).start()
    try:
        sent = int(time.time()) - 60  # 3.6 s is the set time: this reply is late already
        pixel = f"{service.url}/pixel.gif?ticket_id=42&requester_id=7&comment_id=9001&sent={sent}"
        assert requests.get(pixel, headers={"User-Agent": APPLE_PRELOAD}, timeout=5).status_code == 200
        assert zendesk.wait_for(lambda: zendesk.tags_of(42) == ["reply_unopened"]), service.output()
        assert requests.get(pixel, headers=THUNDERBIRD, timeout=5).status_code == 200
        assert zendesk.wait_for(lambda: zendesk.tags_of(42) == [] and zendesk.field_of(42, FIELD)), service.output()
        assert zendesk.field_of(42, FIELD) == day(time.time())
        assert zendesk.wait_for(lambda: len(zendesk.notes_on(42)) == 2)  # the preload's and the person's notes
        updates = zendesk.updates_of(42)
        assert not any("tags" in body for body in updates)
        assert [sorted(set(body) - {"comment"}) for body in updates if "comment" not in body] == [
            ["additional_tags"],
            ["custom_fields", "remove_tags"],
        ]
        assert zendesk.violations == []
        assert "ticket 42 updated: add tag reply_unopened" in service.output()
        metrics = requests.get(service.url + "/metrics", timeout=5).text
        assert 'read_receipts_ticket_updates_total{outcome="done"} 2.0' in metrics
    finally:
        service.kill()


def test_an_update_our_code_fails_on_is_set_aside_and_the_others_go_on(database_url, zendesk):
    zendesk.add_ticket(43, requester_id=8)
    worker = worker_of(database_url, zendesk)
    with worker.stores.engine.begin() as conn:  # a read time no calendar holds: its date cannot be written
        queue_reads(conn, [(43, 1e20), (42, time.time())], time.time())
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    assert worker.stores.ticket_updates.of_ticket(43).state == TicketUpdateState.DEAD
    assert zendesk.field_of(42, FIELD) == day(time.time())
    assert [kind for kind, _ in worker.stores.dead_letters.listing()] == ["ticket_updates"]
    worker.stores.close()


def test_retention_keeps_the_row_of_a_ticket_that_still_carries_the_tag(database_url, zendesk):
    zendesk.add_ticket(43, requester_id=8)
    worker = worker_of(database_url, zendesk)
    sent = time.time() - 3 * HOUR
    worker.stores.events.record_reply_sent(42, 1, sent)
    with worker.stores.engine.begin() as conn:
        queue_reads(conn, [(43, sent)], time.time())
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    assert worker.stores.privacy.purge(time.time())["ticket updates"] == 1  # 43's read is settled and old
    assert worker.stores.ticket_updates.of_ticket(43) is None
    assert worker.stores.ticket_updates.of_ticket(42).tag_sent == "reply_unopened"  # a read can still remove it
    worker.stores.close()


def test_replies_to_requesters_who_opted_out_never_tag_their_tickets(database_url, zendesk, tmp_path):
    zendesk.add_ticket(43, requester_id=8)
    zendesk.add_ticket(44, requester_id=9)
    worker = worker_of(database_url, zendesk, OPT_OUT_REQUESTERS="9")
    OptOuts(worker.stores.engine, tmp_path).add(8, 43, time.time())  # followed the link in the email of 43
    worker.stores.tickets.remember(44, 9, "open", time.time())
    sent = time.time() - 3 * HOUR
    for ticket_id in (42, 43, 44):
        worker.stores.events.record_reply_sent(ticket_id, 1, sent)
    tagging, clock = tagging_at(worker, time.time())
    run(tagging, clock)
    assert zendesk.tags_of(42) == ["reply_unopened"]
    assert zendesk.updates_of(43) == [] and zendesk.updates_of(44) == []
    worker.stores.close()


@pytest.mark.server
def test_the_service_sends_notes_and_ticket_updates_once_each_after_an_outage(services, database_url, zendesk):  # noqa: F811
    zendesk.add_field(FIELD, "date")
    zendesk.add_ticket(43, requester_id=7, replies=[1, 5])
    env = {"DATABASE_URL": database_url, "UNOPENED_AFTER_HOURS": "0.001", "READ_FIELD_ID": str(FIELD)}
    service = services({**env, "ZENDESK_TIMEOUT": "1", **zendesk.env()})
    bot = {"User-Agent": "curl/8.5.0"}  # a machine: its load has its ticket checked, and gets no note
    for ticket in (42, 43):
        assert requests.get(f"{service.url}/pixel.gif?ticket_id={ticket}&requester_id=7&comment_id=1", headers=bot).ok
    listed = lambda t: any(path.startswith(f"/api/v2/tickets/{t}/comments.json") for _, path, _ in zendesk.calls)  # noqa: E731
    assert zendesk.wait_for(lambda: listed(42) and listed(43)), service.output()

    zendesk.down = True
    sent = int(time.time()) - 60  # 3.6 s is the set time: this reply is late already
    preload = f"{service.url}/pixel.gif?ticket_id=42&requester_id=7&comment_id=9001&sent={sent}"
    assert requests.get(preload, headers={"User-Agent": APPLE_PRELOAD}, timeout=5).ok  # a note and the tag
    assert service.load("ticket_id=43&requester_id=7&comment_id=5").ok  # a note and the read field
    # tried (the note and the update), and tried again: a try whose answer was lost looks at the ticket first
    dropped = lambda method: sum(m == method and status is None for m, _, status in list(zendesk.calls))  # noqa: E731
    assert zendesk.wait_for(lambda: dropped("PUT") >= 2 and dropped("GET") >= 2, timeout=30), service.output()
    zendesk.down = False

    def arrived():
        return (
            len(zendesk.notes_on(42)) == len(zendesk.notes_on(43)) == 1
            and zendesk.tags_of(42) == ["reply_unopened"]
            and zendesk.field_of(43, FIELD) == day(time.time())
        )

    assert zendesk.wait_for(arrived, timeout=40), service.output()
    time.sleep(2)  # a second copy of any of them would come now
    assert len(zendesk.notes_on(42)) == len(zendesk.notes_on(43)) == 1
    changes = {t: [body for body in zendesk.updates_of(t) if "comment" not in body] for t in (42, 43)}
    assert changes == {
        42: [{"additional_tags": ["reply_unopened"]}],
        43: [{"custom_fields": [{"id": FIELD, "value": day(time.time())}]}],
    }
    assert zendesk.violations == []


def utc(moment: float) -> str:
    """A time as explain and the ticket page write it."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_explain_and_the_ticket_page_say_whether_the_ticket_is_tagged_unread(database_url, zendesk, make_app):
    worker = worker_of(database_url, zendesk, READ_FIELD_ID="")
    app = make_app(database_url, **ADMIN, UNOPENED_AFTER_HOURS="1")

    def said() -> str:
        """The unread tag's line, as explain and the ticket page both say it."""
        explained = app.test_cli_runner().invoke(args=["explain", "42"]).output.splitlines()[1]
        page = app.test_client().get("/dashboard/tickets/42", headers=LOGIN).get_data(as_text=True)
        assert f'<p id="unread-tag">{explained}</p>' in page
        return explained

    late = "was not read by a person within 1 h"
    assert said() == "Unread tag: never tagged reply_unopened: no reply of this ticket went unread by a person for 1 h."
    sent = time.time() - 3 * HOUR
    worker.stores.events.record_reply_sent(42, 9001, sent)
    tagging, clock = tagging_at(worker, time.time())
    assert tagging.mark_unread(clock())
    assert said() == f"Unread tag: reply_unopened is queued, not on the ticket yet: the reply sent {utc(sent)} {late}."
    run(tagging, clock)
    tagged = clock()
    assert said() == f"Unread tag: tagged reply_unopened since {utc(tagged)}: the reply sent {utc(sent)} {late}."
    clock.advance(2 * HOUR)
    read_at = clock() - 60
    read_by_a_person(worker, clock, 42, 9001, read_at)
    run(tagging, clock)
    assert said() == (
        f"Unread tag: reply_unopened taken away {utc(clock())}, added {utc(tagged)}: a person read a reply {utc(read_at)}."
    )
    worker.stores.close()


def test_explain_says_the_tag_never_went_out_or_could_not_be_added(database_url, zendesk):
    zendesk.add_ticket(43, requester_id=8, status="closed")
    worker = worker_of(database_url, zendesk, READ_FIELD_ID="")
    sent = time.time() - 3 * HOUR
    for ticket_id in (42, 43):
        worker.stores.events.record_reply_sent(ticket_id, 1, sent)
    tagging, clock = tagging_at(worker, time.time())
    assert tagging.mark_unread(clock())
    read_by_a_person(worker, clock, 42, 1, sent + HOUR + 20)  # before the tag went out
    run(tagging, clock)
    line = {t: unread_tag_line(worker.stores.ticket_updates.of_ticket(t), worker.settings) for t in (42, 43)}
    assert line[42] == (
        f"Unread tag: not added: a person read a reply {utc(sent + HOUR + 20)}, before the tag went out "
        f"(the reply sent {utc(sent)} was not read by a person within 1 h)."
    )
    assert line[43].startswith("Unread tag: reply_unopened could not be added, for good (HTTP 422")
    off = load_settings({"DATABASE_URL": database_url, **zendesk.env(), "UNOPENED_AFTER_HOURS": "0"})
    assert unread_tag_line(None, off) == "Unread tag: off (UNOPENED_AFTER_HOURS is 0 or UNOPENED_TAG is empty)."
    worker.stores.close()
