"""Triage of opens: their labels and verdicts, and the checks of their tickets against Zendesk."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time

from read_receipts.delivery.comments import ReplyIds
from read_receipts.delivery.dead_letters import in_batch_or_alone, or_set_aside
from read_receipts.delivery.dry_run import log_dry_run
from read_receipts.delivery.pacing import PacedWork, Pacing
from read_receipts.delivery.silence import SilenceReport
from read_receipts.delivery.sources import CheckTurns
from read_receipts.delivery.webhooks import Webhooks
from read_receipts.delivery.zendesk import ZendeskClient, ZendeskVerdict
from read_receipts.intake import pixel
from read_receipts.labels.openers import AGENT, Classifier, Opener
from read_receipts.settings import Settings
from read_receipts.store.agent_addresses import is_learned_agent_address
from read_receipts.store.budgets import Budgets
from read_receipts.store.dead_letters import DeadLetters
from read_receipts.store.opens import Open, Opens, OpenState, Verdict
from read_receipts.store.opt_outs import OptOuts
from read_receipts.store.privacy import kept_address
from read_receipts.store.tickets import Ticket, Tickets, TicketStatus

log = logging.getLogger(__name__)

BATCH = 2000  # opens settled per round, in one transaction: fewer statements per open under load
LOOKUP_PAUSE = 1.0  # seconds between looks for tickets to ask Zendesk about, when the last look found none
LABELLING = "labelling"  # the lease of the one worker (of every lane and instance) labelling opens


class Triage(PacedWork):
    """Decides which opens count towards a note, asking Zendesk who each ticket's requester is."""

    def __init__(
        self,
        opens: Opens,
        tickets: Tickets,
        budgets: Budgets,
        dead_letters: DeadLetters,
        zendesk: ZendeskClient,
        settings: Settings,
        pacing: Pacing,
        lease: float,
        classifier: Classifier,
        webhooks: Webhooks | None = None,
    ):
        super().__init__(zendesk, settings, pacing, lease)
        self.opens = opens
        self.tickets = tickets
        self.budgets = budgets
        self.dead_letters = dead_letters
        self.classifier = classifier
        self.webhooks = webhooks
        self.silence = SilenceReport()  # says, once a minute, why opens got no note
        self.reply_ids = ReplyIds(opens, tickets, zendesk, settings, pacing, lease)
        self.turns = CheckTurns()
        self.opt_outs = OptOuts(opens.engine, settings.spool_dir, settings.opt_out_requesters)
        self._next_lookup = 0.0
        self.behind = False  # the last batch was a full one: more opens are waiting

    def run(self, now: float) -> bool:
        """Settle every open that can be decided now, and ask Zendesk about one ticket."""
        self.opt_outs.refresh()  # every round, loads or not: the pixel reads the same copy
        verify = self._must_verify()
        settled = self._settle_decidable(verify, now)
        if not verify or (settled and now < self._next_lookup):
            return settled
        asked = self.reply_ids.run(now)
        spent = self.pacing.checks_spent(now)
        networks_spent = functools.partial(self.pacing.networks_spent, now=now)
        unknown = None if spent else self.turns.next_ticket(self.opens.checks_waiting(now), networks_spent)
        if unknown is not None and self._check_ticket(*unknown, now):
            self.reply_ids.run(now)  # the comments its opens name, without waiting for another round
        # Finding what Zendesk should be asked scans every waiting open: while a backlog
        # is being settled and the last look found nothing, look again in a second, not every round.
        self._next_lookup = now if asked or unknown is not None else now + LOOKUP_PAUSE
        return settled or asked or unknown is not None

    def _settle_decidable(self, verify: bool, now: float) -> bool:
        """Label and settle a batch of decidable opens, under the labelling lease; True if any was there.

        Labelling is the courier's costliest work: one holder at a time labels a batch, so no open is
        labelled twice, and it stops before its lease runs out (the rest wait for the next round).
        """
        if not self.opens.decidable(verify, limit=1):
            self.silence.add((), now)  # the last minute's sums are logged even when nothing more comes
            return False
        until = self.budgets.lease(LABELLING, now, self.lease)
        if until is None:
            return False  # another lane or instance is labelling
        try:
            rows = self.opens.decidable(verify, limit=BATCH)
            self.behind = len(rows) == BATCH
            known = self.tickets.cached_many({row.ticket_id for row in rows})
            stop_at = time.monotonic() + self.lease / 2
            verdicts = []
            with self.opt_outs.looking_once():  # the batch was read at once: one look at the opt-outs for it
                for row in rows:
                    if time.monotonic() > stop_at:
                        break
                    if verdict := self._verdict_or_set_aside(row, known.get(row.ticket_id)):
                        verdicts.append(verdict)
            self._settle(verdicts, now)
        finally:
            self.budgets.end_lease(LABELLING, until)
        return bool(rows)

    def _settle(self, verdicts: list[Verdict], now: float) -> None:
        """Settle a batch in one transaction; if it fails, settle each open alone and set aside the one at fault."""
        settle = functools.partial(self.opens.settle, now=now, interval=self.settings.note_interval)
        in_batch_or_alone(self.dead_letters, "opens", verdicts, settle, lambda verdict: verdict.open.id)
        self.silence.add(verdicts, now)
        if self.zendesk.dry_run:
            log_dry_run(verdicts, self.settings.note_language, self.settings.note_timezone)

    def _verdict_or_set_aside(self, row: Open, ticket: Ticket | None) -> Verdict | None:
        """Judge one open; an open that cannot be judged is set aside."""
        return or_set_aside(self.dead_letters, "opens", row.id, lambda: self._verdict(row, ticket))

    def _verdict(self, row: Open, ticket: Ticket | None) -> Verdict:
        """Label an open (client and kind), decide whether it counts towards a note, and say what tells of it."""
        sent_at = pixel.sent_time(row.sent)
        since_sent = row.opened_at - sent_at if sent_at is not None else None
        opener = self.classifier.classify(row.user_agent, row.ip, since_sent)
        if is_learned_agent_address(self.opens, self.settings, row.ip):  # an agent's own browser came from there
            opener = Opener(opener.client, AGENT)
        state = self._state(row, ticket, opener.kind)
        if state == OpenState.OPTED_OUT:
            return Verdict(row, state)  # not analysed, nothing of the reader kept
        kept_ip = kept_address(row.ip, self.settings.ip_storage)
        verdict = Verdict(
            row,
            state,
            opener.client,
            opener.kind,
            sent_at,
            kept_ip,
            self._names_reply(row, ticket),
            user_agent_kept=self.settings.keep_user_agent,
        )
        if self.webhooks is None or not self.webhooks.urls:
            return verdict
        return dataclasses.replace(verdict, calls=self.webhooks.calls_for_open(verdict))

    def _names_reply(self, row: Open, ticket: Ticket | None) -> bool:
        """Whether the open's reply id may be named: a signed link's, or a public comment of the ticket."""
        if row.comment_id is None or row.signed or not self._must_verify() or ticket is None:
            return True
        return ticket.lists_comment(row.comment_id)

    def _state(self, row: Open, ticket: Ticket | None, kind: str) -> OpenState:
        """Return `counted`, or the state of an open that gets no note."""
        if self.opt_outs.covers(row.requester_id) or (ticket is not None and ticket.opted_out):
            return OpenState.OPTED_OUT
        if self._must_verify() and not row.signed:  # a signed link is its own proof
            if row.requester_id is None:
                return OpenState.UNVERIFIED
            if ticket.status != TicketStatus.DELETED and ticket.requester_id != row.requester_id:
                # debug: a flood of forged ids must not flood the log
                log.debug("open of ticket %s ignored: %s is not its requester", row.ticket_id, row.requester_id)
                return OpenState.REJECTED
        if ticket is not None and ticket.final:
            return OpenState(ticket.status)  # closed or deleted, as the ticket is
        if kind not in self.settings.note_kinds:
            return OpenState.SKIPPED
        # Nothing decided without Zendesk may reach it: a dry run's loads never count towards a note.
        return OpenState.DRY_RUN if self.zendesk.dry_run else OpenState.COUNTED

    def _must_verify(self) -> bool:
        """Verification needs Zendesk; a dry run has nothing to check against."""
        return self.settings.verify_requester and not self.zendesk.dry_run

    def _check_ticket(self, ticket_id: int, network: str | None, now: float) -> bool:
        """Ask Zendesk who a ticket's requester is; on failure, try again later. True if it was described."""
        attempts = self.tickets.claim_check(ticket_id, now, self.lease)
        if attempts is None:
            return False  # another worker took it first
        wait = self.pacing.gate(now, check=True, network=network)
        if wait:
            self.tickets.postpone_check(ticket_id, now + wait, failed=False)
            return False
        answer = self.zendesk.ticket(ticket_id)
        self.pacing.observe(answer, now, f"checking ticket {ticket_id}")
        found = (answer.body or {}).get("ticket") or {}
        requester, status = found.get("requester_id"), found.get("status")
        if answer.status == 404:
            self.tickets.remember(ticket_id, None, TicketStatus.DELETED, now)
            return False
        if answer.verdict == ZendeskVerdict.OK and isinstance(requester, int) and isinstance(status, str):
            tags = found.get("tags") if isinstance(found.get("tags"), list) else []
            opted_out = bool(self.settings.opt_out_tag) and self.settings.opt_out_tag in tags
            self.tickets.remember(ticket_id, requester, status[:16], now, opted_out, people_in_copy(found))
            return True
        delay = self.pacing.retry_delay(answer, attempts)
        self.tickets.postpone_check(ticket_id, now + delay, failed=True)
        return False


def people_in_copy(ticket: dict) -> int:
    """How many people the ticket's emails go to besides the requester: its email CCs (or, without them, its CCs)."""
    ids = ticket.get("email_cc_ids") if isinstance(ticket.get("email_cc_ids"), list) else ticket.get("collaborator_ids")
    requester = ticket.get("requester_id")
    return len({i for i in ids if isinstance(i, int) and i != requester}) if isinstance(ids, list) else 0
