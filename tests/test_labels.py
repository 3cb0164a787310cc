"""Honest labels end to end: each kind's load through the pixel makes exactly the notes the defaults promise."""

from __future__ import annotations

import re
import time

import pytest

from read_receipts.labels.openers import GMAIL_PREFETCH_AGENT
from tests.conftest import Clock, drain

GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
YAHOO = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"
APPLE_MPP = "Mozilla/5.0"
BARRACUDA = "Barracuda Sentinel (EE)"
CURL = "curl/8.5.0"
OFFICE = "198.51.100.23"  # in IGNORE_IPS below
SENT = 1795400000  # the reply's send time, as the img tag carries it


@pytest.fixture
def labelled(make_app):
    """An app behind one proxy, with the office network ignored and a settable clock."""
    app = make_app(PROXY_HOPS="1", IGNORE_IPS="198.51.100.0/24, 2001:db8:aa::/48")
    courier = app.extensions["courier"]
    courier.clock = Clock(time.time())
    return app.test_client(), courier


def load(client, user_agent: str, address: str = "203.0.113.50", reply: int = 9001, sent: int | None = None):
    """Load the pixel as a mail client behind the proxy would."""
    query = f"ticket_id=42&requester_id=7&comment_id={reply}" + (f"&sent={sent}" if sent else "")
    headers = {"User-Agent": user_agent, "X-Forwarded-For": address}
    assert client.get(f"/pixel.gif?{query}", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("user_agent", "address", "words"),
    [
        (
            GMAIL,
            "66.249.84.1",
            r"the requester opened your reply of Sat, Nov 28, 7:04 PM, by Ann in Gmail \(through its image proxy\) on ",
        ),
        (
            YAHOO,
            "98.136.1.1",
            r"the requester opened your reply of Sat, Nov 28, 7:04 PM, by Ann in Yahoo Mail \(through its image proxy\) on ",
        ),
        (OUTLOOK, "203.0.113.50", r"the requester opened your reply of Sat, Nov 28, 7:04 PM, by Ann in Outlook on "),
        (
            THUNDERBIRD,
            "2001:db8:1::5",
            r"the requester opened your reply of Sat, Nov 28, 7:04 PM, by Ann in Thunderbird on ",
        ),
        (
            APPLE_MPP,
            "172.224.1.1",
            r"Apple Mail loaded the images of your reply of Sat, Nov 28, 7:04 PM, by Ann on .*not that anyone read it\.",
        ),
    ],
)
def test_noted_kinds_say_who_opened(labelled, zendesk, user_agent, address, words):
    client, courier = labelled
    load(client, user_agent, address)
    drain(courier)
    [note] = zendesk.notes_on(42)
    assert re.search(words, note.body), note.body
    assert note.public is False


@pytest.mark.parametrize(
    ("user_agent", "address"),
    [
        (GMAIL_PREFETCH_AGENT, "66.249.84.1"),  # Gmail prefetch
        (BARRACUDA, "203.0.113.60"),  # scanner by User-Agent
        (CURL, "203.0.113.61"),  # other bot
        (OUTLOOK, OFFICE),  # an agent in the office
        (THUNDERBIRD, "2001:db8:aa::9"),  # an agent on the VPN, over IPv6
    ],
)
def test_machine_and_agent_loads_are_stored_not_noted(labelled, zendesk, user_agent, address):
    client, courier = labelled
    load(client, user_agent, address)
    drain(courier)
    assert zendesk.comments == []


def test_scanner_within_seconds_of_sending_from_a_datacenter_is_not_noted(labelled, zendesk):
    client, courier = labelled
    load(
        client,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "40.107.22.5",
        sent=int(time.time()) - 2,
    )
    drain(courier)
    assert zendesk.comments == []


def test_note_says_how_long_after_the_reply(labelled, zendesk):
    client, courier = labelled
    load(client, THUNDERBIRD, sent=int(time.time()) - (2 * 3600 + 13 * 60 + 5))
    drain(courier)
    assert ", 2 h 13 min after the reply was sent." in zendesk.notes_on(42)[0].body


def test_real_open_after_an_apple_preload_is_still_noted(labelled, zendesk):
    client, courier = labelled
    load(client, APPLE_MPP, "172.224.1.1")
    drain(courier)
    load(client, GMAIL, "66.249.84.1")
    drain(courier)
    preload, read = zendesk.notes_on(42)
    assert "Apple Mail loaded the images" in preload.body
    assert "the requester opened your reply of Sat, Nov 28, 7:04 PM, by Ann in Gmail" in read.body
    load(client, GMAIL, "66.249.84.1")
    drain(courier)
    assert len(zendesk.notes_on(42)) == 2, "a second read waits for the hourly summary"


def test_machine_loads_before_a_read_do_not_spend_the_first_note(labelled, zendesk):
    client, courier = labelled
    load(client, BARRACUDA, "203.0.113.60")
    load(client, CURL, "203.0.113.61")
    drain(courier)
    load(client, OUTLOOK)
    drain(courier)
    [note] = zendesk.notes_on(42)
    assert "in Outlook on" in note.body


def test_note_kinds_setting_notes_scanners_too(make_app, zendesk):
    app = make_app(NOTE_KINDS="person,scanner")
    client = app.test_client()
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1", headers={"User-Agent": BARRACUDA})
    client.get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=2", headers={"User-Agent": APPLE_MPP})
    drain(app.extensions["courier"])
    [note] = zendesk.notes_on(42)
    assert "a security scanner (" in note.body and "not a person reading" in note.body


def test_every_load_is_stored_with_its_label(labelled, make_app):
    client, courier = labelled
    load(client, OUTLOOK, OFFICE)
    load(client, APPLE_MPP, "172.224.1.1")
    drain(courier)
    store = courier.stores
    agent, preload = store.opens.by_id(1), store.opens.by_id(2)
    assert (agent.kind, agent.client, agent.state) == ("agent", "Outlook", "skipped")
    assert (preload.kind, preload.client, preload.state) == ("apple_preload", "Apple Mail", "noted")
