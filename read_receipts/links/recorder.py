"""Opens and clicks of signed tracking links: spooled, then stored as events; those naming a ticket prove an open."""

from __future__ import annotations

import json

from read_receipts.intake import pixel
from read_receipts.intake.opt_out_copy import PIXEL_LOOK_SECONDS, OptOutCopy, requester_of
from read_receipts.intake.spool import Spool
from read_receipts.links.tokens import TokenError, Tracker, stored_meta

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
NOT_A_LINK = (
    "<!doctype html><meta charset=utf-8><title>Link not valid</title><p>This link is not valid, or has expired.</p>"
)


class LinkRecorder:
    """Records what tracking links report; never raises into the request."""

    def __init__(self, spool: Spool, tracker: Tracker | None):
        self.spool = spool
        self.tracker = tracker
        self.opt_outs = OptOutCopy(spool.directory, PIXEL_LOOK_SECONDS)  # as the pixel reads it

    def open(self, token: str, environ: dict) -> None:
        """Record a tracking pixel's load (the image is answered whatever happens)."""
        self._record("open", token, environ)

    def click(self, token: str, environ: dict) -> str | None:
        """Record a click and return where it goes; None for a token that is not a click link of ours."""
        if environ.get("REQUEST_METHOD") == "HEAD":  # a link checker's probe is not a click
            return self.target(token)
        return self._record("click", token, environ)

    def target(self, token: str) -> str | None:
        """Where a click link goes, recording nothing; None for anything else."""
        link = self._link(token)
        return link.target if link is not None else None

    def _link(self, token: str):
        """The link a token carries; None when it is not ours."""
        if self.tracker is None:
            return None
        try:
            return self.tracker.decode(token)
        except TokenError:
            return None

    def _record(self, kind: str, token: str, environ: dict) -> str | None:
        """Check the token, then store the event (and the ticket open it proves)."""
        link = self._link(token)
        # An open pixel's token on /c/ is no click: nothing to record, nowhere to go.
        if link is None or (kind == "click" and link.target is None):
            return None
        # Stored whole: the signature proves it, and signing refused what is too long.
        event = pixel.with_client(
            {"kind": kind, "meta": stored_meta(link.meta), "target": link.target}, environ, "occurred_at"
        )
        if self.opt_outs.covers_link(link.meta):  # an opted-out requester's or recipient's load keeps no trace of them
            event["ip"] = event["user_agent"] = None
        self.spool.append("e", event)  # never raises: a failure is counted and logged by the spool
        return link.target


def ticket_open(event, meta: dict) -> dict | None:
    """The ticket open a stored event proves, when its link's metadata (`meta`, parsed) names a Zendesk ticket."""
    ticket_id = pixel.zendesk_id(str(meta.get("ticket_id", "")))
    if ticket_id is None:
        return None
    return {
        "ticket_id": ticket_id,
        "requester_id": requester_of(meta),
        "comment_id": pixel.zendesk_id(str(meta.get("comment_id", ""))),
        "sent": str(meta.get("sent", ""))[: pixel.SENT_MAX] or None,
        "opened_at": event.occurred_at,
        "ip": event.ip,
        "user_agent": event.user_agent,
    }


def campaign_of(meta: dict) -> str:
    """The campaign a stored event's link metadata (parsed) names ('' when none)."""
    campaign = meta.get("campaign")
    return str(campaign)[:80] if campaign not in (None, "") else ""


def stored_meta_dict(raw: str) -> dict:
    """Link metadata as stored; {} when it does not parse (a row an older release cut short)."""
    try:
        meta = json.loads(raw)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}
