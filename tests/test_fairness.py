"""Fair shares: made-up reply ids, one busy ticket and floods of unknown tickets cannot hold up the notes."""

from __future__ import annotations

from read_receipts.delivery.comments import REFRESH
from tests.conftest import drain


def reply_ids_read(zendesk, ticket_id: int) -> int:
    """How many pages of a ticket's comments were read."""
    return sum(1 for method, path, _ in zendesk.calls if path.startswith(f"/api/v2/tickets/{ticket_id}/comments"))


def test_made_up_reply_ids_make_no_notes_and_cost_one_read_per_interval(service, zendesk):
    zendesk.add_ticket(101, requester_id=55, replies=[7001])
    client, courier, store = service()
    client.get("/pixel.gif?ticket_id=101&requester_id=55&comment_id=7001")
    for i in range(2000):
        client.get(f"/pixel.gif?ticket_id=101&requester_id=55&comment_id={i}123")
    drain(courier, rounds=500)
    for _ in range(3):
        courier.clock.advance(REFRESH + 1)
        client.get("/pixel.gif?ticket_id=101&requester_id=55&comment_id=99123")
        drain(courier, rounds=500)
    bodies = [note.body for note in zendesk.notes_on(101)]
    assert len(bodies) == 2, bodies
    assert sum("your reply of Fri, Nov 27, 9:44 AM, by Ann in" in body for body in bodies) == 1
    assert sum("a reply on this ticket in Thunderbird on" in body for body in bodies) == 1
    assert reply_ids_read(zendesk, 101) <= 1 + 3, "at most one read per interval"
    assert sorted(d.kind for d in store.deliveries.for_ticket(101)) == ["first", "first", "summary"]


def test_a_new_reply_is_named_once_its_ticket_is_read_again(service, zendesk):
    zendesk.add_ticket(103, requester_id=55, replies=[1])
    client, courier, _ = service()
    client.get("/pixel.gif?ticket_id=103&requester_id=55&comment_id=1")
    drain(courier)
    zendesk.replies[103].append(2)  # the agent replies again
    client.get("/pixel.gif?ticket_id=103&requester_id=55&comment_id=2")
    drain(courier)
    assert len(zendesk.notes_on(103)) == 1, "waits for the next read of the comments"
    courier.clock.advance(REFRESH + 1)
    drain(courier)
    assert "your reply of Sun, Nov 22, 1:05 PM, by Ann in" in zendesk.notes_on(103)[1].body


def test_comments_are_read_page_by_page_until_the_reply_is_found(service, zendesk):
    zendesk.add_ticket(104, requester_id=55, replies=range(1, 351))
    client, courier, store = service()
    client.get("/pixel.gif?ticket_id=104&requester_id=55&comment_id=3")
    drain(courier)
    assert "your reply of Sun, Nov 22, 1:06 PM, by Ann in" in zendesk.notes_on(104)[0].body
    assert reply_ids_read(zendesk, 104) == 4 and zendesk.violations == []
    assert len(store.tickets.cached(104).public_comments.split()) == 350


def test_one_busy_ticket_never_delays_the_notes_of_others(service, zendesk):
    zendesk.add_ticket(101, requester_id=55, replies=range(1, 41))
    zendesk.add_ticket(102, requester_id=56, replies=[1])
    client, courier, store = service()
    for reply in range(1, 41):
        client.get(f"/pixel.gif?ticket_id=101&requester_id=55&comment_id={reply}")
    drain(courier, rounds=500)
    assert len(zendesk.notes_on(101)) == 10, "the ticket's limit"
    held = [d for d in store.deliveries.for_ticket(101) if d.state == "pending"]
    assert len(held) == 30 and all(d.attempts == 0 for d in held), "skipped while the ticket's window is full"
    client.get("/pixel.gif?ticket_id=102&requester_id=56&comment_id=1")
    for _ in range(3):  # check the ticket and read its replies; settle the open; post its note
        courier.run_once()
    assert len(zendesk.notes_on(102)) == 1, "noted at once, ahead of the held notes"
    assert zendesk.count_calls("PUT") == 11 and zendesk.violations == []
    courier.clock.advance(601)
    drain(courier, rounds=500)
    assert len(zendesk.notes_on(101)) == 20, "the next window's share"


def test_due_notes_go_to_the_ticket_with_the_fewest_notes_first(service, zendesk):
    for ticket in (201, 202):
        zendesk.add_ticket(ticket, requester_id=55, replies=range(1, 9))
    client, courier, store = service(VERIFY_REQUESTER="false", ZENDESK_UPDATES_PER_MINUTE="8")
    for reply in range(1, 9):
        client.get(f"/pixel.gif?ticket_id=201&comment_id={reply}")
    for reply in range(1, 5):
        client.get(f"/pixel.gif?ticket_id=202&comment_id={reply}")
    drain(courier, rounds=500)
    assert (len(zendesk.notes_on(201)), len(zendesk.notes_on(202))) == (4, 4), "turns, not arrival order"


def test_unchecked_opens_expire(service, zendesk):
    client, courier, store = service(UNCHECKED_OPEN_TTL_HOURS="1")
    zendesk.down = True
    client.get("/pixel.gif?ticket_id=900777&requester_id=1&comment_id=1")
    drain(courier)
    courier.clock.advance(3601)
    courier._next_cleanup = 0
    drain(courier)
    assert store.opens.by_id(1).state == "expired"


def test_one_network_takes_at_most_half_the_checks_and_others_take_turns(service, zendesk):
    zendesk.add_ticket(500, requester_id=50)
    client, courier, store = service()
    attacker, newcomer = {"REMOTE_ADDR": "203.0.113.9"}, {"REMOTE_ADDR": "192.0.2.44"}
    for i in range(200):
        client.get(f"/pixel.gif?ticket_id={i}0000777&requester_id=1&comment_id=1", environ_base=attacker)
    drain(courier, rounds=500)
    assert zendesk.count_calls("GET", "/api/v2/tickets/") == 25, "half of the checks' share of 100 calls a minute"
    client.get("/pixel.gif?ticket_id=500&requester_id=50&comment_id=1", environ_base=newcomer)
    drain(courier, rounds=500)
    assert len(zendesk.notes_on(500)) == 1, "the other half is there for everyone else"
    courier.clock.advance(61)
    drain(courier, rounds=500)
    assert zendesk.count_calls("GET", "/api/v2/tickets/") == 25 + 1 + 25


def test_one_requester_with_many_tickets_takes_at_most_half_the_notes(service, zendesk):
    for ticket in range(700, 740):
        zendesk.add_ticket(ticket, requester_id=77, replies=[1])
    zendesk.add_ticket(800, requester_id=88, replies=[1])
    client, courier, store = service(ZENDESK_REQUESTS_PER_MINUTE="600")
    for ticket in range(700, 740):
        client.get(f"/pixel.gif?ticket_id={ticket}&requester_id=77&comment_id=1")
    drain(courier, rounds=1000)
    assert len(zendesk.comments) == 25, "half of ZENDESK_UPDATES_PER_MINUTE (50)"
    client.get("/pixel.gif?ticket_id=800&requester_id=88&comment_id=1")
    drain(courier, rounds=100)
    assert len(zendesk.notes_on(800)) == 1, "the other half is there for everyone else"
    courier.clock.advance(61)
    drain(courier, rounds=1000)
    assert len(zendesk.comments) == 41 and zendesk.violations == []
