"""Webhooks: every open (pixel or tracking link) and click, POSTed as signed JSON to the receivers in settings.

Receivers verify `X-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
shared WEBHOOK_SECRET, and de-duplicate on the `id` field (also sent as `X-Event-Id`):
delivery is at least once, from a durable outbox, retried with backoff through outages
and restarts. Receiver addresses come from settings only, never from a link.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from datetime import UTC, datetime

import requests
from requests.adapters import HTTPAdapter

from read_receipts.delivery.dead_letters import or_set_aside
from read_receipts.labels.openers import Classifier
from read_receipts.links.signatures import signature
from read_receipts.store.dead_letters import DeadLetters
from read_receipts.store.events import Event
from read_receipts.store.opens import NOT_READS, Verdict
from read_receipts.store.webhook_calls import Call, WebhookCall, WebhookCalls, WebhookState

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10)
MAX_BACKOFF = 600.0
GIVE_UP_AFTER = 3 * 86400  # a call still failing after three days is recorded as failed
BATCH = 20


class Webhooks:
    """Turns stored events into outbox rows, and delivers them."""

    def __init__(
        self,
        calls: WebhookCalls,
        dead_letters: DeadLetters,
        urls: tuple[str, ...],
        secret: str,
        classifier: Classifier,
    ):
        self.outbox = calls
        self.dead_letters = dead_letters
        self.urls = urls
        self.secret = secret
        self.classifier = classifier
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=0))  # retries live in the outbox
        self.session.mount("https://", HTTPAdapter(max_retries=0))

    def send_due(self, now: float, lease: float) -> bool:
        """Deliver the calls that are due; True if any was attempted."""
        rows = self.outbox.claim(now, lease, BATCH)
        for index, row in enumerate(rows):
            if not self._send_or_set_aside(row, now):
                # A receiver that fails once this round is not waited on again: notes go on.
                self.outbox.unlease(rows[index + 1 :])
                break
        return bool(rows)

    def calls(self, event: Event) -> list[Call]:
        """The outbox rows for one tracking-link event."""
        if not self.urls:
            return []
        opener = self.classifier.classify(event.user_agent, event.ip)
        meta = json.loads(event.meta)
        return self._rows(event.kind, event.occurred_at, meta, event.target, opener.client, opener.kind)

    def calls_for_open(self, verdict: Verdict) -> list[Call]:
        """The outbox rows for one triaged pixel load (links' own opens went out as events)."""
        # Loads that prove no reader (forged, unprovable, a ticket Zendesk lacks, opted out) are not sent on.
        if not self.urls or verdict.open.signed or verdict.state in NOT_READS:
            return []
        row = verdict.open
        meta = {"ticket_id": row.ticket_id, "requester_id": row.requester_id, "comment_id": row.comment_id}
        return self._rows("open", row.opened_at, meta, None, verdict.client, verdict.kind)

    def _rows(self, kind: str, at: float, meta: dict, target: str | None, client: str, opener_kind: str) -> list[Call]:
        """The same payload, with one event id, for every receiver."""
        payload = {
            "id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
            "meta": meta,
            "target": target,
            "client": client,
            "kind": opener_kind,
        }
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        return [Call(payload["id"], url, body) for url in self.urls]

    def _send_or_set_aside(self, row: WebhookCall, now: float) -> bool:
        """Send one call; a call our own code fails on (e.g. a stored URL that no longer parses) is set aside."""
        return or_set_aside(self.dead_letters, "webhooks", row.id, lambda: self._send(row, now), fallback=True)

    def _send(self, row: WebhookCall, now: float) -> bool:
        """POST one call and record what came of it; False if the receiver failed."""
        body = row.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "zendesk-read-receipts-webhooks",
            "X-Event-Id": row.event_id,
            "X-Signature": signature(self.secret, int(time.time()), body),
        }
        try:
            response = self.session.post(row.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
            status, error = response.status_code, "" if response.ok else f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            status, error = None, f"connection failed ({type(exc).__name__})"
        if status is not None and 200 <= status < 300:
            self.outbox.finish(row, WebhookState.DONE, time.time(), status)
            return True
        if now - row.created_at > GIVE_UP_AFTER:
            log.warning("webhook %s to %s failed for good: %s", row.event_id, row.url, error)
            self.outbox.finish(row, WebhookState.FAILED, time.time(), status, error)
        else:
            delay = min(MAX_BACKOFF, 2.0 * 2 ** min(row.attempts, 12)) * random.uniform(0.5, 1.0)
            self.outbox.release(row, time.time() + delay, status, error)
        return False
