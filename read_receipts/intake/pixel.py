"""The tracking image and the reading of its query string."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from read_receipts.intake.opt_out_copy import PIXEL_LOOK_SECONDS, OptOutCopy

# A 1x1 transparent GIF89a, 43 bytes.
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

HEADERS = {
    "Content-Type": "image/gif",
    "Content-Length": str(len(GIF)),
    # Every load must reach us: no browser, proxy or CDN may keep a copy.
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "Thu, 01 Jan 1970 00:00:00 GMT",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}

PATH = "/pixel.gif"
LINK_PREFIX = "/o/"  # /o/<token>.gif: a signed tracking link's pixel
_HEADER_LIST = list(HEADERS.items())
_MAX_FIELDS = 20  # a real pixel URL has three or four
_FIELDS = frozenset(("ticket_id", "requester_id", "comment_id", "sent"))

_ZENDESK_ID = re.compile(r"[1-9][0-9]{0,17}")  # positive, fits a signed 64-bit column
USER_AGENT_MAX = 512
SENT_MAX = 40
IP_MAX = 45  # the longest written form of an IPv6 address


def zendesk_id(raw: str | None) -> int | None:
    """Parse a Zendesk id; None for missing, empty, placeholder or malformed values."""
    if raw and _ZENDESK_ID.fullmatch(raw):
        return int(raw)
    return None


def open_from_query(args: Mapping[str, str]) -> dict | None:
    """Return the ids a pixel load carries, or None when it names no ticket."""
    ticket_id = zendesk_id(args.get("ticket_id"))
    if ticket_id is None:
        return None
    return {
        "ticket_id": ticket_id,
        "requester_id": zendesk_id(args.get("requester_id")),
        # An empty or literal {{...}} comment id means "reply unknown".
        "comment_id": zendesk_id(args.get("comment_id")),
        # Parsed after the answer, by the courier: the hot path only keeps it.
        "sent": args.get("sent", "")[:SENT_MAX] or None,
    }


def sent_time(raw: str | None) -> float | None:
    """Read the reply's send time from the img tag's `sent` value; None when missing or unreadable."""
    if not raw or "{{" in raw:
        return None
    raw = raw.strip()
    if raw.isdigit() and 9 <= len(raw) <= 10:
        return float(raw)  # Unix seconds
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Zendesk's timestamps are UTC
    return moment.timestamp()


class PixelRoute:
    """Answer GET and HEAD /pixel.gif ahead of Flask's routing.

    The pixel is the one hot path: a plain WSGI answer with headers built once
    costs a fraction of a routed Flask request. Every other request goes on to
    the Flask app.
    """

    def __init__(self, app: Callable, record_open: Callable[[dict], None], record_link: Callable[[str, dict], object]):
        self.app = app
        self.record_open = record_open
        self.record_link = record_link  # a tracking link's open: (token, environ)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        link = path.startswith(LINK_PREFIX) and path.endswith(".gif")
        if path != PATH and not link:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if method == "GET" and link:
            self.record_link(path[len(LINK_PREFIX) : -len(".gif")], environ)
        elif method == "GET":
            values = open_from_query(_first_values(environ.get("QUERY_STRING", "")))
            if values is not None:
                self.record_open(with_client(values, environ))
        elif method != "HEAD":
            start_response("405 METHOD NOT ALLOWED", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return []
        start_response("200 OK", _HEADER_LIST)
        return [GIF] if method == "GET" else []


def spooler(spool) -> Callable[[dict], None]:
    """Return what the pixel calls to record an open: one line appended to the local spool."""
    append = spool.append
    # The instance's copy of the opt-out list (a file): an opted-out requester's address and agent are not spooled.
    opted_out = OptOutCopy(spool.directory, PIXEL_LOOK_SECONDS).covers

    def record(values: dict) -> None:
        if opted_out(values["requester_id"]):
            values["ip"] = values["user_agent"] = None
        append("o", values)

    return record


def _first_values(query: str) -> dict[str, str]:
    """Read the pixel's own fields from a query string; the first of repeated keys wins, as with Flask's args.

    parse_qsl decodes every field of the URL, and this is the hot path: only the
    four fields the pixel reads are decoded here, with the same rules (`&`
    separates, `+` is a space, blank values are dropped).
    """
    if query.count("&") >= _MAX_FIELDS:  # not a pixel URL anyone sent
        return {}
    values: dict[str, str] = {}
    for field in query.split("&"):
        key, _, value = field.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if key in _FIELDS and key not in values and value:
            values[key] = unquote_plus(value) if "%" in value or "+" in value else value
    return values


def with_client(values: dict, environ: dict, stamp: str = "opened_at") -> dict:
    """Add the load's time, client address and User-Agent."""
    agent = environ.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
    values[stamp] = time.time()
    values["ip"] = (environ.get("REMOTE_ADDR") or "")[:IP_MAX] or None  # the column's width, whatever a proxy says
    # WSGI hands headers over as latin-1; mail clients send UTF-8.
    values["user_agent"] = agent.encode("latin-1", "replace").decode("utf-8", "replace")
    return values
