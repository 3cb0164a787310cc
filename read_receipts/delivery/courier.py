"""The courier: turns spooled opens into private notes, in a thread of the instance's courier process."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from read_receipts.delivery.dead_letters import in_batch_or_alone, is_poison
from read_receipts.delivery.heartbeat import Heartbeat
from read_receipts.delivery.pacing import AUTH_RETRY, MAX_BACKOFF, Pacing
from read_receipts.delivery.posting import Posting
from read_receipts.delivery.spool_drain import SpoolDrain
from read_receipts.delivery.tagging import Tagging
from read_receipts.delivery.triage import BATCH, Triage
from read_receipts.delivery.webhooks import Webhooks
from read_receipts.delivery.zendesk import CONNECT_TIMEOUT, ZendeskClient
from read_receipts.intake.spool import Spool
from read_receipts.labels.openers import Classifier
from read_receipts.links import recorder as links
from read_receipts.settings import Settings
from read_receipts.store import Stores
from read_receipts.store.events import Event
from read_receipts.store.privacy import kept_address

log = logging.getLogger(__name__)


class Wake(Protocol):
    """What wakes a courier: a threading.Event in its own process, or the doorbell of the courier process."""

    def wait(self, timeout: float | None = None) -> bool: ...

    def is_set(self) -> bool: ...

    def set(self) -> None: ...

    def clear(self) -> None: ...


__all__ = ["AUTH_RETRY", "MAX_BACKOFF", "Courier"]

POLL_SECONDS = 1.0  # how often an idle worker looks for work another worker queued
POLL_MAX_SECONDS = 4.0  # ... and how seldom, once it has been idle a while
COURIER_NICENESS = 10  # added to the worker's niceness, for this thread only
BREATHER = 0.1  # pause between busy rounds: batches opens, and leaves the CPU and the lock to the pixel
FAILED_ROUND_LOG_SECONDS = 60.0  # while the store is away, one log line a minute, not one a round
DISPATCHING = "dispatching"  # the lease of the one worker (of every lane and instance) dispatching events
STORE_RETRY_MAX = 5.0  # longest wait between rounds while they fail: spooled opens move soon after the store is back


class Courier:
    """Checks opens against Zendesk, throttles them, and posts the notes."""

    def __init__(
        self,
        stores: Stores,
        zendesk: ZendeskClient,
        settings: Settings,
        classifier: Classifier,
        clock: Callable[[], float] = time.time,
        webhooks: Webhooks | None = None,
        spool: Spool | None = None,
        wake: Wake | None = None,
        poll_max: float = POLL_MAX_SECONDS,
        on_busy: Callable[[], None] | None = None,
        rest_when_behind: bool = True,
    ):
        """`wake` is what new work rings (the spool's wake, when this courier drains it); `poll_max`
        the longest idle wait (shorter where nothing rings); `on_busy` is called after a round that moved something;
        `rest_when_behind=False` skips the breather after a round that took a full batch (a backlog waits, batched
        already): for a courier in a process of its own, where it takes no time from request threads."""
        self.stores = stores
        self.webhooks = webhooks
        self.zendesk = zendesk
        self.settings = settings
        self.clock = clock
        # What wakes the courier: an Event in its own process, or the doorbell of a courier process.
        self.wake = wake if wake is not None else threading.Event()
        self.spool_drain = SpoolDrain(stores.spool, spool) if spool is not None else None
        # The courier that drains the spool says, in it, when its last round finished (for /healthz).
        self.heartbeat = (
            Heartbeat(spool.directory, stores.couriers, settings.courier_stall_seconds) if spool is not None else None
        )
        # A lease outlives the one Zendesk call its holder may make; after a
        # kill -9 the work it held is picked up again once it runs out.
        self.lease = settings.zendesk_timeout + CONNECT_TIMEOUT + 10
        pacing = Pacing(stores.budgets, stores.tallies, zendesk, settings)
        self.triage = Triage(
            stores.opens,
            stores.tickets,
            stores.budgets,
            stores.dead_letters,
            zendesk,
            settings,
            pacing,
            self.lease,
            classifier,
            webhooks,
        )
        self.posting = Posting(
            stores.deliveries,
            stores.replies,
            stores.tickets,
            stores.opens,
            stores.dead_letters,
            zendesk,
            settings,
            pacing,
            self.lease,
            clock=lambda: self.clock(),
        )
        self.tagging = Tagging(
            stores.ticket_updates,
            stores.tickets,
            stores.dead_letters,
            zendesk,
            settings,
            pacing,
            self.lease,
            clock=lambda: self.clock(),
        )
        self.poll_max = poll_max
        self.on_busy = on_busy
        self.rest_when_behind = rest_when_behind
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_cleanup = 0.0
        self._failures, self._next_failure_log = 0, 0.0  # rounds failed in a row (the store is away)
        self._job_failures: dict[str, str] = {}  # the last failure of each job, logged once
        self._behind = False  # the last round took a full batch of events or opens: more wait

    @property
    def classifier(self) -> Classifier:
        """The labeller triage gives each open to."""
        return self.triage.classifier

    @classifier.setter
    def classifier(self, classifier: Classifier) -> None:
        """Label opens with another classifier from now on."""
        self.triage.classifier = classifier

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
        _yield_to_requests()
        self.classifier.prepare()  # here, not in the first round: a flood's first batch waits on nothing
        idle_rounds = 0
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
                if self.heartbeat is not None:
                    self.heartbeat.finished(time.time())  # a write: a store that takes none fails the round
                self._failures = 0
            except Exception as error:  # a store hiccup must not kill delivery for good
                if self.heartbeat is not None:
                    self.heartbeat.failed(time.time(), error)
                self._failed_round()
                continue
            if busy:
                idle_rounds = 0
                if self.on_busy is not None:
                    self.on_busy()
                if self.rest_when_behind or not self._behind:
                    self._stopping.wait(BREATHER)
            else:
                # New opens wake it at once (the doorbell, or an Event in its own process); the poll is
                # for work other instances queued and for timed work (retries, summaries): it slows
                # down while nothing happens, to save the CPU.
                self.wake.wait(min(self.poll_max, POLL_SECONDS * 2**idle_rounds))
                idle_rounds = 0 if self.wake.is_set() else min(idle_rounds + 1, 8)
                self.wake.clear()

    def _failed_round(self) -> None:
        """Log a failed round (the first in full, then a line a minute) and wait a little longer each time."""
        self._failures += 1
        now = time.monotonic()
        if self._failures == 1:
            log.exception("delivery round failed (new opens wait in the spool); trying again shortly")
            self._next_failure_log = now + FAILED_ROUND_LOG_SECONDS
        elif now >= self._next_failure_log:
            log.warning("delivery rounds still failing (%d in a row); new opens wait in the spool", self._failures)
            self._next_failure_log = now + FAILED_ROUND_LOG_SECONDS
        # New connections next round: a SQLite file opened read-only stays so until reopened once it is writable again.
        self.stores.engine.dispose()
        # A connection another lane still held goes back to the pool dispose() left behind, which lives on until
        # collected; while it lives, SQLite shares its read-only shared-memory index with every new connection.
        gc.collect()
        self._stopping.wait(min(STORE_RETRY_MAX, 0.25 * 2 ** min(self._failures, 5)))

    # -- one round ------------------------------------------------------------

    def run_once(self) -> bool:
        """Triage due opens, send one due note and one due ticket update; True if anything moved."""
        now = self.clock()
        self._behind = self.triage.behind = False
        moved = self.spool_drain.run(time.time()) if self.spool_drain else False
        if now >= self._next_cleanup:
            self._apart("cleaning up", self._clean_up, now)
        moved = self._apart("dispatching events", self.dispatch_events, now) or moved
        moved = self._apart("triaging opens", self.triage_opens, now) or moved
        if self.webhooks is not None and self.webhooks.urls:
            moved = self._apart("sending webhooks", self._send_webhooks, self.clock()) or moved
        moved = self._apart("updating tickets", self.tagging.run, self.clock()) or moved
        moved = self._apart("posting notes", self.send_note, self.clock()) or moved
        self._behind = self._behind or self.triage.behind
        return moved

    def _apart(self, doing: str, job: Callable[[float], bool | None], now: float) -> bool:
        """Run one job of a round: if it fails, log it (once while the same failure repeats) and go on."""
        try:
            moved = job(now)
        except Exception as error:
            if not is_poison(error):
                raise  # the store is down or busy: the whole round waits
            failure = f"{type(error).__name__}: {error}"
            if self._job_failures.get(doing) != failure:
                self._job_failures[doing] = failure
                log.exception("%s failed; the other work goes on", doing)
            return False
        self._job_failures.pop(doing, None)
        return bool(moved)

    def _send_webhooks(self, now: float) -> bool:
        """Deliver the webhook calls that are due."""
        return self.webhooks.send_due(now, self.lease)

    def triage_opens(self, now: float) -> bool:
        """Settle every open that can be decided now, and ask Zendesk about one ticket."""
        return self.triage.run(now)

    def send_note(self, now: float) -> bool:
        """Post the next due note, if any; True if one was settled."""
        return self.posting.send_note(now)

    def dispatch_events(self, now: float) -> bool:
        """Hand new tracking-link events to the webhook outbox, and to triage when they name a ticket.

        One lane (of every instance) at a time, under a lease: two would label the same batch, and one
        of them would find it already moved.
        """
        if not self.stores.events.new(limit=1):
            return False
        until = self.stores.budgets.lease(DISPATCHING, now, self.lease)
        if until is None:
            return False  # another lane or instance is dispatching
        try:
            rows = self.stores.events.new(limit=BATCH)
            self._behind = len(rows) == BATCH
            in_batch_or_alone(
                self.stores.dead_letters, "events", rows, lambda batch: self._dispatch(batch, now), lambda row: row.id
            )
        finally:
            self.stores.budgets.end_lease(DISPATCHING, until)
        return bool(rows)

    def _dispatch(self, rows: list[Event], now: float) -> None:
        """Queue the webhook calls and ticket opens of some events, in one transaction."""
        if rows:
            # Parsed once for every use below ({} when it does not parse: the webhook then parses it again, and fails).
            metas = {row.id: links.stored_meta_dict(row.meta) for row in rows}
            # An opted-out requester's or recipient's events are sent to no webhook and make no ticket open.
            with self.triage.opt_outs.looking_once():  # one look at the opt-outs for the batch
                quiet = {row.id for row in rows if self.triage.opt_outs.covers_link(metas[row.id])}
            calls = {
                row.id: self.webhooks.calls(row, metas[row.id] or None) if self.webhooks and row.id not in quiet else []
                for row in rows
            }
            proven = {
                row.id: t
                for row in rows
                if row.id not in quiet and (t := links.ticket_open(row, metas[row.id])) is not None
            }
            kept_ips = {row.id: kept_address(row.ip, self.settings.ip_storage) for row in rows}
            campaigns = {row.id: links.campaign_of(metas[row.id]) for row in rows}
            self.stores.events.dispatch(calls, proven, kept_ips, now, campaigns, {row.id: row.kind for row in rows})

    def _clean_up(self, now: float) -> None:
        """Every ten minutes: forget old budget windows, and delete what is past retention."""
        self._next_cleanup = now + 600
        self.stores.budgets.forget(now - 3600)
        expired = self.stores.opens.expire_unchecked(now - self.settings.unchecked_open_ttl)
        if expired:
            log.info("expired %d opens whose ticket could not be checked in time", expired)
        if self.settings.retention_days:
            purged = self.stores.privacy.purge(now - self.settings.retention_days * 86400)
            if any(purged.values()):
                log.info("retention: deleted %s", ", ".join(f"{n} {what}" for what, n in purged.items() if n))


def _yield_to_requests() -> None:
    """Run this thread at a lower priority than the worker's request threads (Linux schedules threads apart).

    On a saturated machine the pixel answers first and the courier catches up in
    bigger batches; on an idle one nothing changes.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), COURIER_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the worker's priority
        pass
