"""The courier: turns stored opens into private notes, in a thread of each worker."""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time
from collections.abc import Callable

from read_receipts.delivery import notes
from read_receipts.delivery.silence import SilenceReport
from read_receipts.delivery.webhooks import Webhooks
from read_receipts.delivery.zendesk import CONNECT_TIMEOUT, Answer
from read_receipts.intake import pixel
from read_receipts.labels.openers import PERSON, Classifier
from read_receipts.links import recorder as links
from read_receipts.settings import Settings
from read_receipts.store import Store, Verdict
from read_receipts.store.privacy import kept_address

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often an idle worker looks for work another worker queued
BREATHER = 0.1  # pause between busy rounds: batches opens, and leaves the CPU and the lock to the pixel
BATCH = 500  # opens settled per round, in one transaction
MAX_BACKOFF = 60.0  # longest wait between tries of one note or ticket check
AUTH_RETRY = 300.0  # wrong credentials: keep the work, retry slowly
SHORT_HOLD = 5.0  # pause every worker briefly after a failed call
FINAL_TICKET_STATES = {"closed", "deleted"}


class Courier:
    """Checks opens against Zendesk, throttles them, and posts the notes."""

    def __init__(
        self,
        store: Store,
        zendesk,
        settings: Settings,
        classifier: Classifier,
        clock: Callable[[], float] = time.time,
        webhooks: Webhooks | None = None,
    ):
        self.store = store
        self.classifier = classifier
        self.webhooks = webhooks
        self.zendesk = zendesk
        self.settings = settings
        self.clock = clock
        self.wake = threading.Event()
        # A lease outlives the one Zendesk call its holder may make; after a
        # kill -9 the work it held is picked up again once it runs out.
        self.lease = settings.zendesk_timeout + CONNECT_TIMEOUT + 10
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_cleanup = 0.0
        self._failing = False  # the last call of this worker failed
        self.silence = SilenceReport()  # says, once a minute, why opens got no note

    # -- the background thread ------------------------------------------------

    def start(self) -> None:
        """Start delivering in a daemon thread; stop it at interpreter exit."""
        self._thread = threading.Thread(target=self._loop, name="courier", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to finish its current call and stop."""
        self._stopping.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        """Work while there is work; otherwise wait for a wake-up or the poll."""
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
            except Exception:  # a store hiccup must not kill delivery for good
                log.exception("delivery round failed; trying again shortly")
                busy = False
            if busy:
                self._stopping.wait(BREATHER)
            else:
                self.wake.wait(POLL_SECONDS)
                self.wake.clear()

    def run_once(self) -> bool:
        """Triage due opens and send one due note; True if anything moved."""
        now = self.clock()
        if now >= self._next_cleanup:
            self._clean_up(now)
        moved = self.dispatch_events(now)
        moved = self.triage_opens(now) or moved
        if self.webhooks is not None and self.webhooks.urls:
            moved = self.webhooks.send_due(self.clock(), self.lease) or moved
        return self.send_note(self.clock()) or moved

    def dispatch_events(self, now: float) -> bool:
        """Hand new tracking-link events to the webhook outbox, and to triage when they name a ticket."""
        rows = self.store.new_events(limit=BATCH)
        if rows:
            calls = {row.id: self.webhooks.calls(row) if self.webhooks else [] for row in rows}
            proven = {row.id: ticket for row in rows if (ticket := links.ticket_open(row)) is not None}
            kept_ips = {row.id: kept_address(row.ip, self.settings.ip_storage) for row in rows}
            campaigns = {row.id: links.campaign_of(row) for row in rows}
            self.store.dispatch_events(calls, proven, kept_ips, now, campaigns, {row.id: row.kind for row in rows})
        return bool(rows)

    def _clean_up(self, now: float) -> None:
        """Every ten minutes: forget old budget windows, and delete what is past retention."""
        self._next_cleanup = now + 600
        self.store.forget_budgets(now - 3600)
        if self.settings.retention_days:
            purged = self.store.purge(now - self.settings.retention_days * 86400)
            if any(purged.values()):
                log.info("retention: deleted %s", ", ".join(f"{n} {what}" for what, n in purged.items() if n))

    # -- opens ----------------------------------------------------------------

    def triage_opens(self, now: float) -> bool:
        """Settle every open that can be decided now, and ask Zendesk about one ticket."""
        verify = self._must_verify()
        rows = self.store.decidable_opens(verify, limit=BATCH)
        known = self.store.cached_tickets({row.ticket_id for row in rows})
        verdicts = [self._verdict(row, known.get(row.ticket_id)) for row in rows]
        calls_for = self.webhooks.calls_for_open if self.webhooks is not None and self.webhooks.urls else None
        self.store.settle_opens(verdicts, now, self.settings.note_interval, calls_for)
        self.silence.add(verdicts, now)
        unknown = self.store.ticket_to_check(now) if verify else None
        if unknown is not None:
            self._check_ticket(unknown, now)
        return bool(rows) or unknown is not None

    def _verdict(self, row, ticket) -> Verdict:
        """Label an open (client and kind) and decide whether it counts towards a note."""
        sent_at = pixel.sent_time(row.sent)
        since_sent = row.opened_at - sent_at if sent_at is not None else None
        opener = self.classifier.classify(row.user_agent, row.ip, since_sent)
        state = self._state(row, ticket, opener.kind)
        if state == "opted_out":
            return Verdict(row, state)  # not analysed, nothing of the reader kept
        kept_ip = kept_address(row.ip, self.settings.ip_storage)
        return Verdict(row, state, opener.client, opener.kind, sent_at, kept_ip)

    def _state(self, row, ticket, kind: str) -> str:
        """Return `counted`, or the state of an open that gets no note."""
        if row.requester_id in self.settings.opt_out_requesters or (ticket is not None and ticket.opted_out):
            return "opted_out"
        if self._must_verify() and not row.signed:  # a signed link is its own proof
            if row.requester_id is None:
                return "unverified"
            if ticket.status != "deleted" and ticket.requester_id != row.requester_id:
                # debug: a flood of forged ids must not flood the log
                log.debug("open of ticket %s ignored: %s is not its requester", row.ticket_id, row.requester_id)
                return "rejected"
        if ticket is not None and ticket.status in FINAL_TICKET_STATES:
            return ticket.status
        return "counted" if kind in self.settings.note_kinds else "skipped"

    def _must_verify(self) -> bool:
        """Verification needs Zendesk; a dry run has nothing to check against."""
        return self.settings.verify_requester and not self.zendesk.dry_run

    def _check_ticket(self, ticket_id: int, now: float) -> None:
        """Ask Zendesk who a ticket's requester is; on failure, try again later."""
        attempts = self.store.claim_ticket_check(ticket_id, now, self.lease)
        if attempts is None:
            return  # another worker took it first
        wait = self._gate(now)
        if wait:
            self.store.postpone_ticket_check(ticket_id, now + wait, failed=False)
            return
        answer = self.zendesk.ticket(ticket_id)
        self._observe(answer, now, f"checking ticket {ticket_id}")
        found = (answer.body or {}).get("ticket") or {}
        requester, status = found.get("requester_id"), found.get("status")
        if answer.status == 404:
            self.store.remember_ticket(ticket_id, None, "deleted", now)
        elif answer.verdict == "ok" and isinstance(requester, int) and isinstance(status, str):
            tags = found.get("tags") if isinstance(found.get("tags"), list) else []
            opted_out = bool(self.settings.opt_out_tag) and self.settings.opt_out_tag in tags
            self.store.remember_ticket(ticket_id, requester, status[:16], now, opted_out)
        else:
            self.store.postpone_ticket_check(ticket_id, now + self._retry_delay(answer, attempts), failed=True)

    # -- notes ----------------------------------------------------------------

    def send_note(self, now: float) -> bool:
        """Post the next due note, if any; True if one was settled."""
        rows = self.store.claim_deliveries(now, self.lease, limit=1)
        return any(self._deliver(row, now) for row in rows)

    def _deliver(self, row, now: float) -> bool:
        """Post one note and record the outcome."""
        reply = self.store.reply(row.ticket_id, row.reply_key)
        if row.kind == "summary" and reply.opens_noted == 0:
            self.store.release_delivery(row, now + 30)  # the first note goes first
            return False
        covered, body = self._note_text(row, reply)
        finish = self._finisher(row, covered)
        if not body:
            return finish("skipped", None, "")
        ticket = self.store.cached_ticket(row.ticket_id)
        if ticket is not None and ticket.status in FINAL_TICKET_STATES:
            return finish("failed", None, f"ticket is {ticket.status}")
        wait = self._gate(now, row.ticket_id)
        if wait:
            self.store.release_delivery(row, now + wait)
            return False
        answer = self.zendesk.add_private_note(row.ticket_id, body, self.settings.note_tag)
        self._observe(answer, now, f"adding a note to ticket {row.ticket_id}")
        return self._settle_note(row, answer, finish)

    def _note_text(self, row, reply) -> tuple[int, str]:
        """Return the opens a note covers and its words ('' when nothing is left to say)."""
        zone = self.settings.note_timezone
        if row.kind == "first":
            opened = self.store.open_by_id(row.open_id)
            kind, client = opened.kind or PERSON, opened.client or ""
            return 1, notes.first_open(opened.opened_at, row.reply_key, zone, kind, client, reply.sent_at)
        count = reply.opens - reply.opens_noted
        if count <= 0:
            return reply.opens, ""
        return reply.opens, notes.more_opens(count, reply.last_open_at, row.reply_key, zone)

    def _finisher(self, row, covered: int):
        """Bind the arguments every final outcome of one delivery shares."""

        def finish(state: str, status: int | None, error: str) -> bool:
            self.store.finish_delivery(row, state, self.clock(), self.settings.note_interval, covered, status, error)
            return True

        return finish

    def _settle_note(self, row, answer: Answer, finish) -> bool:
        """Record a posted, refused or failed note."""
        if answer.verdict == "ok":
            log.info("note added to ticket %s (%s)", row.ticket_id, row.kind)
            return finish("logged" if self.zendesk.dry_run else "done", answer.status, "")
        if answer.verdict == "final":
            if answer.status in (404, 422):
                status = "deleted" if answer.status == 404 else "closed"
                self.store.remember_ticket(row.ticket_id, None, status, self.clock())
            log.warning("note for ticket %s not posted, for good: %s", row.ticket_id, answer.describe())
            return finish("failed", answer.status, answer.describe())
        due = self.clock() + self._retry_delay(answer, row.attempts)
        self.store.release_delivery(row, due, answer.status, answer.describe())
        return False

    # -- pacing ---------------------------------------------------------------

    def _gate(self, now: float, note_for: int | None = None) -> float:
        """Take budget for one call; return seconds to wait when there is none."""
        if self.zendesk.dry_run:
            return 0.0
        held = self.store.held_until("zendesk")
        if held > now:
            return held - now
        wanted = [("requests", 60.0, self.settings.requests_per_minute)]
        if note_for is not None:
            wanted += [
                ("updates", 60.0, self.settings.updates_per_minute),
                (f"ticket:{note_for}", 600.0, self.settings.updates_per_ticket),
            ]
        return 0.0 if self.store.take(wanted, now) else 5.0

    def _observe(self, answer: Answer, now: float, doing: str) -> None:
        """Log a failed call and pause every worker when Zendesk asks or fails."""
        verdict = answer.verdict
        self.store.tally({f"zendesk:{answer.status or 'no answer'}": 1})
        if verdict in ("ok", "final"):
            if self._failing:  # Zendesk is back: what waited on it goes now, paced by the budgets
                log.info("Zendesk answers again; retrying waiting notes and checks now")
                self.store.retry_waiting_now(now)
            self._failing = False
            return
        self._failing = True
        if verdict == "throttled":
            pause = answer.retry_after if answer.retry_after is not None else 60.0
            self.store.hold("zendesk", now + pause)
            log.warning("Zendesk rate limit while %s: pausing all calls for %.0f s", doing, pause)
        elif verdict == "auth":
            self.store.hold("zendesk", now + 60)
            log.error(
                "Zendesk refused the credentials while %s (%s): check ZENDESK_EMAIL and "
                "ZENDESK_API_TOKEN (or ZENDESK_OAUTH_TOKEN), and that the user is an agent or admin "
                "with API token access enabled. Notes are kept and retried every %d minutes; "
                "`flask --app app check-zendesk` tells more.",
                doing,
                answer.describe(),
                AUTH_RETRY // 60,
            )
        elif verdict == "retry":
            self.store.hold("zendesk", now + SHORT_HOLD)
            log.warning("Zendesk failed while %s (%s); will retry", doing, answer.describe())

    def _retry_delay(self, answer: Answer, attempts: int) -> float:
        """How long to wait before trying a failed call again."""
        if answer.verdict == "throttled":
            return answer.retry_after if answer.retry_after is not None else 60.0
        if answer.verdict == "auth":
            return AUTH_RETRY
        return _backoff(attempts)


def _backoff(attempts: int) -> float:
    """Exponential backoff with jitter, capped so notes follow soon after an outage."""
    return min(MAX_BACKOFF, 2.0 * 2 ** min(attempts, 10)) * random.uniform(0.5, 1.0)
