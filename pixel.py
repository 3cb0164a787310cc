"""The tracking image and the reading of its query string."""

from __future__ import annotations

import re
from collections.abc import Mapping

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

_ZENDESK_ID = re.compile(r"[1-9][0-9]{0,17}")  # positive, fits a signed 64-bit column
USER_AGENT_MAX = 512


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
    }
