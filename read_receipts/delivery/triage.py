"""Triage of opens: their labels and verdicts, and the checks of their tickets against Zendesk."""

from __future__ import annotations

import functools
import logging

from read_receipts.agents.addresses import is_learned_agent_address
from read_receipts.delivery.comments import ReplyIds
from read_receipts.delivery.dead_letters import in_batch_or_alone, or_set_aside
from read_receipts.delivery.pacing import PacedWork, Pacing
from read_receipts.delivery.silence import SilenceReport
from read_receipts.delivery.sources import CheckTurns
from read_receipts.delivery.webhooks import Webhooks
from read_receipts.intake import pixel
from read_receipts.labels.openers import AGENT, Classifier, Opener
from read_receipts.settings import Settings
from read_receipts.store import Store, Verdict
from read_receipts.store.privacy import kept_address

log = logging.getLogger(__name__)

BATCH = 2000  # opens settled per round, in one transaction: fewer statements per open under load
FINAL_TICKET_STATES = {"closed", "deleted"}
LOOKUP_PAUSE = 1.0  # seconds between looks for tickets to ask Zendesk about, when the last look found none


class Triage(PacedWork):
    """Decides which opens count towards a note, asking Zendesk who each ticket's requester is."""

    def __init__(
        self,
        store: Store,
        zendesk,
        settings: Settings,
        pacing: Pacing,
        lease: float,
        classifier: Classifier,
        webhooks: Webhooks | None = None,
    ):
        super().__init__(store, zendesk, settings, pacing, lease)
        self.classifier = classifier
        self.webhooks = webhooks
        self.silence = SilenceReport()  # says, once a minute, why opens got no note
        self.reply_ids = ReplyIds(store, zendesk, settings, pacing, lease)
        self.turns = CheckTurns()
        self._next_lookup = 0.0

    def run(self, now: float) -> bool:
        """Settle every open that can be decided now, and ask Zendesk about one ticket."""
        verify = self._must_verify()
        rows = self.store.decidable_opens(verify, limit=BATCH)
        known = self.store.cached_tickets({row.ticket_id for row in rows})
        verdicts = [v for row in rows if (v := self._verdict_or_set_aside(row, known.get(row.ticket_id)))]
        self._settle(verdicts, now)
        if not verify or (rows and now < self._next_lookup):
            return bool(rows)
        asked = self.reply_ids.run(now)
        spent = self.pacing.checks_spent(now)
        networks_spent = functools.partial(self.pacing.networks_spent, now=now)
        unknown = None if spent else self.turns.next_ticket(self.store.checks_waiting(now), networks_spent)
        if unknown is not None and self._check_ticket(*unknown, now):
            self.reply_ids.run(now)  # the comments its opens name, without waiting for another round
        # Finding what Zendesk should be asked scans every waiting open: while a backlog
        # is being settled and the last look found nothing, look again in a second, not every round.
        self._next_lookup = now if asked or unknown is not None else now + LOOKUP_PAUSE
        return bool(rows) or asked or unknown is not None

    def _settle(self, verdicts: list[Verdict], now: float) -> None:
        """Settle a batch in one transaction; if it fails, settle each open alone and set aside the one at fault."""
        calls_for = self.webhooks.calls_for_open if self.webhooks is not None and self.webhooks.urls else None
        settle = functools.partial(
            self.store.settle_opens, now=now, interval=self.settings.note_interval, calls_for=calls_for
        )
        in_batch_or_alone(self.store, "opens", verdicts, settle, lambda verdict: verdict.open.id)
        self.silence.add(verdicts, now)

    def _verdict_or_set_aside(self, row, ticket) -> Verdict | None:
        """Judge one open; an open that cannot be judged is set aside."""
        return or_set_aside(self.store, "opens", row.id, lambda: self._verdict(row, ticket))

    def _verdict(self, row, ticket) -> Verdict:
        """Label an open (client and kind) and decide whether it counts towards a note."""
        sent_at = pixel.sent_time(row.sent)
        since_sent = row.opened_at - sent_at if sent_at is not None else None
        opener = self.classifier.classify(row.user_agent, row.ip, since_sent)
        if is_learned_agent_address(self.store, self.settings, row.ip):  # an agent's own browser came from there
            opener = Opener(opener.client, AGENT)
        state = self._state(row, ticket, opener.kind)
        if state == "opted_out":
            return Verdict(row, state)  # not analysed, nothing of the reader kept
        kept_ip = kept_address(row.ip, self.settings.ip_storage)
        return Verdict(row, state, opener.client, opener.kind, sent_at, kept_ip, self._names_reply(row, ticket))

    def _names_reply(self, row, ticket) -> bool:
        """Whether the open's reply id may be named: a signed link's, or a public comment of the ticket."""
        if row.comment_id is None or row.signed or not self._must_verify() or ticket is None:
            return True
        return str(row.comment_id) in (ticket.public_comments or "").split()

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

    def _check_ticket(self, ticket_id: int, network: str | None, now: float) -> bool:
        """Ask Zendesk who a ticket's requester is; on failure, try again later. True if it was described."""
        attempts = self.store.claim_ticket_check(ticket_id, now, self.lease)
        if attempts is None:
            return False  # another worker took it first
        wait = self.pacing.gate(now, check=True, network=network)
        if wait:
            self.store.postpone_ticket_check(ticket_id, now + wait, failed=False)
            return False
        answer = self.zendesk.ticket(ticket_id)
        self.pacing.observe(answer, now, f"checking ticket {ticket_id}")
        found = (answer.body or {}).get("ticket") or {}
        requester, status = found.get("requester_id"), found.get("status")
        if answer.status == 404:
            self.store.remember_ticket(ticket_id, None, "deleted", now)
            return False
        if answer.verdict == "ok" and isinstance(requester, int) and isinstance(status, str):
            tags = found.get("tags") if isinstance(found.get("tags"), list) else []
            opted_out = bool(self.settings.opt_out_tag) and self.settings.opt_out_tag in tags
            self.store.remember_ticket(ticket_id, requester, status[:16], now, opted_out)
            return True
        delay = self.pacing.retry_delay(answer, attempts)
        self.store.postpone_ticket_check(ticket_id, now + delay, failed=True)
        return False
