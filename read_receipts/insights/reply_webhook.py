"""Zendesk's "reply sent" webhook: signed, recent, small; it counts the replies sent for "X of Y read by a person"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, jsonify, request

from read_receipts.insights.errors import error_response
from read_receipts.intake import pixel

reply_hook = Blueprint("reply_hook", __name__)
REPLY_BODY_MAX = 64 * 1024  # a reply-sent payload is a few hundred bytes
STAMP_TOLERANCE = 300.0  # seconds a Zendesk webhook's timestamp may be off: older ones are replays


@reply_hook.post("/zendesk/replies")
def reply_sent():
    """Zendesk's webhook on the reply trigger: remember the reply, who replied and the ticket's group, for figures."""
    secret = current_app.extensions["settings"].zendesk_webhook_secret
    if not secret:
        return error_response(404, "set ZENDESK_WEBHOOK_SECRET to receive Zendesk's webhook")
    stamp = request.headers.get("X-Zendesk-Webhook-Signature-Timestamp", "")
    offered = request.headers.get("X-Zendesk-Webhook-Signature", "")
    if not offered or not _recent(stamp):  # refused before a byte of the body is read
        return error_response(401, "missing signature, or timestamp not within 5 minutes")
    # A declared length over the limit gets 413 unread; a chunked body is read one byte past it, no more.
    request.max_content_length = REPLY_BODY_MAX + 1
    body = request.get_data()
    if len(body) > REPLY_BODY_MAX:
        abort(413, f"a reply-sent webhook body is at most {REPLY_BODY_MAX} bytes")
    expected = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected.encode(), offered.encode()):
        return error_response(401, "bad X-Zendesk-Webhook-Signature")
    try:
        sent = json.loads(body)
    except ValueError:
        sent = None
    ticket_id = pixel.zendesk_id(str((sent or {}).get("ticket_id", ""))) if isinstance(sent, dict) else None
    if ticket_id is None:
        return error_response(400, 'send {"ticket_id", "comment_id", "sent"}')
    reply_key = pixel.zendesk_id(str(sent.get("comment_id", ""))) or 0
    sent_at = pixel.sent_time(str(sent.get("sent", ""))) or datetime.now().timestamp()
    agent_id, agent_name = pixel.zendesk_id(str(sent.get("agent_id", ""))), _filled(sent.get("agent_name"))
    group_id = pixel.zendesk_id(str(sent.get("group_id", "")))
    group = (group_id, _filled(sent.get("group_name"))) if group_id is not None else None  # a ticket in no group
    events = current_app.extensions["store"].events
    known = not events.record_reply_sent(ticket_id, reply_key, sent_at, agent_id, agent_name, group)
    return jsonify(recorded=not known), 200


def _filled(value) -> str | None:
    """A placeholder's value, or None when Zendesk left it empty or unfilled (a test email sends it literally)."""
    if not isinstance(value, str) or not value.strip() or "{{" in value:
        return None
    return value.strip()[:120]


def _recent(stamp: str) -> bool:
    """Whether a webhook's ISO 8601 timestamp is within STAMP_TOLERANCE of now (Zendesk's advice against replays)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return abs(datetime.now(UTC).timestamp() - moment.timestamp()) <= STAMP_TOLERANCE
    except (ValueError, OverflowError):
        return False
