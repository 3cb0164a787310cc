"""Webhooks: every open (pixel or tracking link) and click, POSTed as signed JSON to the receivers in settings.

Receivers verify `X-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
shared WEBHOOK_SECRET, and de-duplicate on each event's `id` field (also sent as `X-Event-Id`
when each event is posted alone). With WEBHOOK_BATCH_SIZE above 1 a body is a JSON array of
events, as SendGrid's Event Webhook posts them, signed and retried as a whole. Delivery
is at least once, from a durable outbox, retried with backoff through outages
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

from read_receipts.delivery.dead_letters import is_poison, set_aside
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
        batch_size: int = 1,
    ):
        self.outbox = calls
        self.batch_size = batch_size  # most events per POST: 1 posts each event's object alone
        self.dead_letters = dead_letters
        self.urls = urls
        self.secret = secret
        self.classifier = classifier
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=0))  # retries live in the outbox
        self.session.mount("https://", HTTPAdapter(max_retries=0))

    def send_due(self, now: float, lease: float) -> bool:
        """Deliver the calls that are due, `batch_size` events to a POST; True if any was attempted."""
        rows = self.outbox.claim(now, lease, BATCH * self.batch_size)
        posts = _posts(rows, self.batch_size)
        for index, post in enumerate(posts):
            if not self._send_or_set_aside(post, now):
                # A receiver that fails once this round is not waited on again: notes go on.
                self.outbox.unlease([row for later in posts[index + 1 :] for row in later])
                break
        return bool(rows)

    def calls(self, event: Event, meta: dict | None = None) -> list[Call]:
        """The outbox rows for one tracking-link event (`meta`: its metadata, when already parsed)."""
        if not self.urls:
            return []
        opener = self.classifier.classify(event.user_agent, event.ip)
        meta = json.loads(event.meta) if meta is None else meta
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

    def _send_or_set_aside(self, post: list[WebhookCall], now: float) -> bool:
        """Send one POST; where our own code fails on it (a stored URL that no longer parses), each call
        is tried alone and the ones at fault are set aside."""
        try:
            return self._send(post, now)
        except Exception as error:
            if not is_poison(error):
                raise  # the store is down or busy: not the calls' fault
            if len(post) == 1:
                set_aside(self.dead_letters, "webhooks", post[0].id, error)
                return True
            return all([self._send_or_set_aside([row], now) for row in post])

    def _send(self, post: list[WebhookCall], now: float) -> bool:
        """POST some calls to their receiver and record what came of it, for all of them; False if it failed."""
        first = post[0]
        body = self._body(post)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "zendesk-read-receipts-webhooks",
            "X-Signature": signature(self.secret, int(time.time()), body),
        }
        if self.batch_size == 1:
            headers["X-Event-Id"] = first.event_id
        try:
            response = self.session.post(first.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
            status, error = response.status_code, "" if response.ok else f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            status, error = None, f"connection failed ({type(exc).__name__})"
        if status is not None and 200 <= status < 300:
            self.outbox.finish(post, WebhookState.DONE, time.time(), status)
            return True
        if now - min(row.created_at for row in post) > GIVE_UP_AFTER:
            log.warning("webhook %s to %s failed for good: %s", _named(post), first.url, error)
            self.outbox.finish(post, WebhookState.FAILED, time.time(), status, error)
        else:
            attempts = max(row.attempts for row in post)
            delay = min(MAX_BACKOFF, 2.0 * 2 ** min(attempts, 12)) * random.uniform(0.5, 1.0)
            self.outbox.retry(post, time.time() + delay, status, error)
        return False

    def _body(self, post: list[WebhookCall]) -> bytes:
        """One event's JSON object; with WEBHOOK_BATCH_SIZE above 1, always an array of them (of one, too)."""
        if self.batch_size == 1:
            return post[0].payload.encode()
        return ("[" + ",".join(row.payload for row in post) + "]").encode()


def _posts(rows: list[WebhookCall], size: int) -> list[list[WebhookCall]]:
    """The claimed calls grouped by receiver, oldest first, `size` to a POST."""
    by_url: dict[str, list[WebhookCall]] = {}
    for row in rows:
        by_url.setdefault(row.url, []).append(row)
    return [calls[start : start + size] for calls in by_url.values() for start in range(0, len(calls), size)]


def _named(post: list[WebhookCall]) -> str:
    """Name the events of a POST in a log line."""
    return post[0].event_id if len(post) == 1 else f"{post[0].event_id} and {len(post) - 1} more"
