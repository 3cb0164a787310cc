"""The words of the private notes posted on tickets."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from read_receipts.labels import openers

PREFIX = "Read receipt:"


def when(timestamp: float, zone: str) -> str:
    """Format a time as '2026-11-22 at 13:03 UTC' in the configured zone."""
    moment = datetime.fromtimestamp(timestamp, ZoneInfo(zone))
    return f"{moment:%Y-%m-%d} at {moment:%H:%M} {moment.tzname()}"


def first_open(
    opened_at: float,
    comment_id: int,
    zone: str,
    kind: str = openers.PERSON,
    client: str = "",
    sent_at: float | None = None,
) -> str:
    """Say who or what opened a reply, and when, in words an agent can trust."""
    reply = _reply(comment_id)
    at = when(opened_at, zone)
    after = _after(opened_at, sent_at)
    if kind == openers.APPLE_PRELOAD:
        return (
            f"{PREFIX} Apple Mail loaded the images of {reply} on {at}{after}. Apple preloads mail for privacy, "
            "so this shows delivery to Apple Mail, not that the requester read it."
        )
    if kind == openers.GMAIL_PREFETCH:
        return f"{PREFIX} Gmail prefetched the images of {reply} on {at}{after}. Gmail does this on delivery: it is not the requester reading."
    if kind == openers.SCANNER:
        return f"{PREFIX} a security scanner{_named(client)} loaded the images of {reply} on {at}{after}: a mail gateway checking the message, not the requester reading."
    if kind == openers.BOT:
        return f"{PREFIX} an automated client{_named(client)} loaded the images of {reply} on {at}{after}: not the requester reading."
    return f"{PREFIX} the requester opened {reply}{_in_client(client)} on {at}{after}."


def more_opens(count: int, last_open_at: float, comment_id: int, zone: str) -> str:
    """Summarise further opens of a reply since the last note."""
    times = "once more" if count == 1 else f"{count} more times"
    return f"{PREFIX} {_reply(comment_id)} was opened {times} since the last note, most recently on {when(last_open_at, zone)}."


def elapsed(seconds: float) -> str:
    """Say a duration the way people do: '45 s', '12 min', '2 h 13 min', '3 d 4 h'."""
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{secs} s"


def _after(opened_at: float, sent_at: float | None) -> str:
    """Say how long after the reply was sent, when the img tag said when that was."""
    if sent_at is None or opened_at < sent_at - 60:  # a clock far off says nothing useful
        return ""
    return f", {elapsed(opened_at - sent_at)} after the reply was sent"


def _in_client(client: str) -> str:
    """Name the client a person read in, and how it reached us."""
    if not client:
        return ""
    via = openers.VIA.get(client)
    return f" in {client}" + (f" ({via})" if via else "")


def _named(client: str) -> str:
    """Name a machine's software, when known."""
    return f" ({client})" if client else ""


def _reply(comment_id: int) -> str:
    """Name the reply, when the pixel said which one."""
    return f"the email with reply #{comment_id}" if comment_id else "the email with a reply"
