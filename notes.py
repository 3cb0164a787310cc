"""The words of the private notes posted on tickets."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

PREFIX = "Read receipt:"


def when(timestamp: float, zone: str) -> str:
    """Format a time as '2026-11-22 at 13:03 UTC' in the configured zone."""
    moment = datetime.fromtimestamp(timestamp, ZoneInfo(zone))
    return f"{moment:%Y-%m-%d} at {moment:%H:%M} {moment.tzname()}"


def first_open(opened_at: float, comment_id: int, zone: str) -> str:
    """Say the requester opened a reply, and when."""
    reply = _reply(comment_id)
    return f"{PREFIX} the requester opened the email with {reply} on {when(opened_at, zone)}."


def more_opens(count: int, last_open_at: float, comment_id: int, zone: str) -> str:
    """Summarise further opens of a reply since the last note."""
    times = "once more" if count == 1 else f"{count} more times"
    reply = _reply(comment_id)
    return f"{PREFIX} the email with {reply} was opened {times} since the last note, most recently on {when(last_open_at, zone)}."


def _reply(comment_id: int) -> str:
    """Name the reply, when the pixel said which one."""
    return f"reply #{comment_id}" if comment_id else "a reply"
