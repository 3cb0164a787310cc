"""Pacing of Zendesk calls: the shared budgets, pauses after Zendesk's answers, and retry delays."""

from __future__ import annotations

import logging
import random

from read_receipts.delivery.zendesk import Answer, ZendeskClient, ZendeskVerdict
from read_receipts.settings import Settings
from read_receipts.store.budgets import Budgets
from read_receipts.store.figures import Tallies

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0  # longest wait between tries of one note or ticket check
AUTH_RETRY = 300.0  # wrong credentials: keep the work, retry slowly
SHORT_HOLD = 5.0  # pause every worker briefly after a failed call
REQUESTER_SHARE = 0.5  # of ZENDESK_UPDATES_PER_MINUTE, the most one requester's tickets may take


class Pacing:
    """Keeps every worker's Zendesk calls within the account's limits and away from a failing Zendesk."""

    def __init__(self, budgets: Budgets, tallies: Tallies, zendesk: ZendeskClient, settings: Settings):
        self.budgets = budgets
        self.tallies = tallies
        self.zendesk = zendesk
        self.settings = settings
        self._failing = False  # the last call of this worker failed

    def gate(
        self,
        now: float,
        note_for: int | None = None,
        requester: int | None = None,
        check: bool = False,
        network: str | None = None,
    ) -> float:
        """Take budget for one call; return seconds to wait when there is none.

        A check of a ticket not seen before also takes from the checks' share,
        so a flood of forged ids leaves the rest of the account's calls to notes.
        """
        if self.zendesk.dry_run:
            return 0.0
        held = self.budgets.held_until("zendesk")
        if held > now:
            return held - now
        wanted = [("requests", 60.0, self.settings.requests_per_minute)]
        if check:
            wanted += self.check_budgets(network)
        if note_for is not None:
            wanted += [
                ("updates", 60.0, self.settings.updates_per_minute),
                (f"ticket:{note_for}", 600.0, self.settings.updates_per_ticket),
            ]
            if requester is not None:  # one requester's many tickets take at most their share
                wanted.append((f"requester:{requester}", 60.0, self.requester_share()))
        return self.budgets.take(wanted, now)

    def requester_share(self) -> int:
        """The notes a minute any one requester's tickets may take together: half the account's."""
        return max(1, int(self.settings.updates_per_minute * REQUESTER_SHARE))

    def check_budgets(self, network: str | None) -> list[tuple[str, float, int]]:
        """The checks' share of the calls a minute, and the half of it any one network may use.

        The half no network can take stays for others: a flood from one network
        that spent its part in its first seconds leaves room for a real first
        open from anywhere else in the same minute.
        """
        share = max(1, int(self.settings.requests_per_minute * self.settings.check_budget_share))
        return [("checks", 60.0, share), (f"checks:{network}", 60.0, max(1, share // 2))]

    def checks_spent(self, now: float) -> bool:
        """Whether checks used their share of the current minute."""
        key, window, limit = self.check_budgets(None)[0]
        return self.budgets.used(key, window, now) >= limit

    def networks_spent(self, networks: set[str | None], now: float) -> set[str | None]:
        """The networks that used their part of the checks' share this minute."""
        spent = set()
        for network in networks:
            key, window, limit = self.check_budgets(network)[1]
            if self.budgets.used(key, window, now) >= limit:
                spent.add(network)
        return spent

    def observe(self, answer: Answer, now: float, doing: str) -> None:
        """Log a failed call and pause every worker when Zendesk asks or fails."""
        verdict = answer.verdict
        self.tallies.tally({f"zendesk:{answer.status or 'no answer'}": 1})
        if verdict in (ZendeskVerdict.OK, ZendeskVerdict.FINAL):
            if self._failing:  # Zendesk is back: what waited on it goes now, paced by the budgets
                log.info("Zendesk answers again; retrying waiting notes and checks now")
                self.budgets.retry_waiting_now(now)
            self._failing = False
            return
        self._failing = True
        if verdict == ZendeskVerdict.THROTTLED:
            pause = answer.retry_after if answer.retry_after is not None else 60.0
            self.budgets.hold("zendesk", now + pause)
            log.warning("Zendesk rate limit while %s: pausing all calls for %.0f s", doing, pause)
        elif verdict == ZendeskVerdict.AUTH:
            self.budgets.hold("zendesk", now + 60)
            log.error(
                "Zendesk refused the credentials while %s (%s): check ZENDESK_EMAIL and "
                "ZENDESK_API_TOKEN (or ZENDESK_OAUTH_TOKEN), and that the user is an agent or admin "
                "with API token access enabled. Notes are kept and retried every %d minutes; "
                "`flask --app app check-zendesk` tells more.",
                doing,
                answer.describe(),
                AUTH_RETRY // 60,
            )
        elif verdict == ZendeskVerdict.RETRY:
            self.budgets.hold("zendesk", now + SHORT_HOLD)
            log.warning("Zendesk failed while %s (%s); will retry", doing, answer.describe())

    def retry_delay(self, answer: Answer, attempts: int) -> float:
        """How long to wait before trying a failed call again."""
        if answer.verdict == ZendeskVerdict.THROTTLED:
            return answer.retry_after if answer.retry_after is not None else 60.0
        if answer.verdict == ZendeskVerdict.AUTH:
            return AUTH_RETRY
        return _backoff(attempts)


class PacedWork:
    """Work that calls Zendesk through the shared pacing, under leases of `lease` seconds."""

    def __init__(self, zendesk: ZendeskClient, settings: Settings, pacing: Pacing, lease: float):
        self.zendesk = zendesk
        self.settings = settings
        self.pacing = pacing
        self.lease = lease


def _backoff(attempts: int) -> float:
    """Exponential backoff with jitter, capped so notes follow soon after an outage."""
    return min(MAX_BACKOFF, 2.0 * 2 ** min(attempts, 10)) * random.uniform(0.5, 1.0)
