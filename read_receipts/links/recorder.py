"""Opens and clicks of signed tracking links: stored as events; those naming a ticket prove an open."""

from __future__ import annotations

import json
import logging

from read_receipts.intake import pixel
from read_receipts.links.tokens import TokenError, Tracker, stored_meta
from read_receipts.store import Store

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
NOT_A_LINK = (
    "<!doctype html><meta charset=utf-8><title>Link not valid</title><p>This link is not valid, or has expired.</p>"
)


class LinkRecorder:
    """Records what tracking links report; never raises into the request."""

    def __init__(self, store: Store, courier, tracker: Tracker | None):
        self.store = store
        self.courier = courier
        self.tracker = tracker

    def open(self, token: str, environ: dict) -> None:
        """Record a tracking pixel's load (the image is answered whatever happens)."""
        self._record("open", token, environ)

    def click(self, token: str, environ: dict) -> str | None:
        """Record a click and return where it goes; None for a token that is not ours."""
        return self._record("click", token, environ)

    def _record(self, kind: str, token: str, environ: dict) -> str | None:
        """Check the token, then store the event (and the ticket open it proves)."""
        if self.tracker is None:
            return None
        try:
            link = self.tracker.decode(token)
        except TokenError:
            return None
        # Stored whole: the signature proves it, and signing refused what is too long.
        event = pixel.with_client(
            {"kind": kind, "meta": stored_meta(link.meta), "target": link.target}, environ, "occurred_at"
        )
        try:
            self.store.record_event(event)
            self.courier.wake.set()
        except Exception:  # never a broken image or a lost redirect
            log.exception("could not store a tracking link's %s; answering all the same", kind)
        return link.target


def ticket_open(event) -> dict | None:
    """The ticket open a stored event proves, when its link's metadata names a Zendesk ticket."""
    meta = _meta_of(event)
    ticket_id = pixel.zendesk_id(str(meta.get("ticket_id", "")))
    if ticket_id is None:
        return None
    return {
        "ticket_id": ticket_id,
        "requester_id": pixel.zendesk_id(str(meta.get("requester_id", ""))),
        "comment_id": pixel.zendesk_id(str(meta.get("comment_id", ""))),
        "sent": str(meta.get("sent", ""))[: pixel.SENT_MAX] or None,
        "opened_at": event.occurred_at,
        "ip": event.ip,
        "user_agent": event.user_agent,
    }


def campaign_of(event) -> str:
    """The campaign a stored event's link names ('' when none)."""
    campaign = _meta_of(event).get("campaign")
    return str(campaign)[:80] if campaign not in (None, "") else ""


def _meta_of(event) -> dict:
    """A stored event's link metadata; {} when it does not parse."""
    try:
        meta = json.loads(event.meta)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}
