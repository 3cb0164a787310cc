"""Words for the dashboard: kinds, states and statuses in plain language, times in the display zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta

from read_receipts.labels import openers
from read_receipts.store.deliveries import DeliveryState
from read_receipts.store.opens import OpenState

LOCALE = Locale.parse("en")  # parsed once: building a Locale is most of a formatting call

# What loaded the pixel; "(not a read)" wherever a machine did.
KIND_WORDS = {
    openers.PERSON: "a person reading",
    openers.APPLE_PRELOAD: "Apple preloaded (not a read)",
    openers.GMAIL_PREFETCH: "Gmail prefetched (not a read)",
    openers.SCANNER: "security scanner (not a read)",
    openers.AGENT: "your own team (IGNORE_IPS)",
    openers.BOT: "other machine (not a read)",
}
CLICK_WORDS = {"click": "clicked a tracking link", "open": "opened through a tracking link"}

# What became of a load, for every state of an open (a test holds the two together).
STATE_WORDS = {
    OpenState.NEW: "waiting to be checked",
    OpenState.NOTED: "got its own note",
    OpenState.COUNTED: "in the reply's summary note",
    OpenState.DRY_RUN: "no note: a dry run's load (no Zendesk credentials then), not a verified read",
    OpenState.SKIPPED: "no note for this kind",
    OpenState.REJECTED: "no note: requester does not match the ticket",
    OpenState.UNVERIFIED: "no note: no requester id in the pixel",
    OpenState.OPTED_OUT: "no note: requester opted out",
    OpenState.CLOSED: "no note: ticket is closed",
    OpenState.DELETED: "no note: Zendesk has no such ticket",
    OpenState.EXPIRED: "no note: ticket could not be checked in time",
    OpenState.DEAD: "set aside: see dead letters",
}

# The status Zendesk gave a ticket, as last read.
TICKET_WORDS = {
    "checking": "being checked with Zendesk",
    "new": "new",
    "open": "open",
    "pending": "pending (waiting for the requester)",
    "hold": "on hold",
    "solved": "solved",
    "closed": "closed",
    "deleted": "deleted in Zendesk",
}

# A note's delivery, for every state of a delivery.
NOTE_WORDS = {
    DeliveryState.PENDING: "queued",
    DeliveryState.DONE: "posted",
    DeliveryState.LOGGED: "dry run: logged, not posted",
    DeliveryState.FAILED: "not posted",
    DeliveryState.SKIPPED: "skipped: nothing left to say",
    DeliveryState.DEAD: "set aside: see dead letters",
}


def kind_words(kind: str | None, via_link: str = "") -> str:
    """A load's kind in words; a tracking link's click or open says so."""
    if via_link:
        return CLICK_WORDS.get(via_link, via_link)
    return KIND_WORDS.get(kind, kind) if kind else "not labelled yet"


def state_words(state: str) -> str:
    return STATE_WORDS.get(state, state)


def ticket_words(status: str) -> str:
    return TICKET_WORDS.get(status, status)


def note_words(state: str) -> str:
    return NOTE_WORDS.get(state, state)


def moment(timestamp: float | None, zone: str) -> str:
    """A time as '1 Dec 2026, 21:15 CET' in the display zone."""
    if timestamp is None:
        return ""
    local = datetime.fromtimestamp(timestamp, ZoneInfo(zone))
    return f"{format_datetime(local, 'd MMM yyyy, HH:mm', locale=LOCALE)} {local.tzname()}"


def ago(timestamp: float | None, now: float) -> str:
    """How long ago, as people say it: '3 hr. ago', 'in 5 min.' for a clock ahead."""
    if timestamp is None:
        return ""
    return format_timedelta(
        timedelta(seconds=timestamp - now), add_direction=True, format="short", threshold=1.5, locale=LOCALE
    )


def iso_moment(iso: str) -> float:
    """The timestamp of an ISO 8601 time the API shows."""
    parsed = datetime.fromisoformat(iso)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
