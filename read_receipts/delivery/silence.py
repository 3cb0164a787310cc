"""Why opens got no note, in plain words: one log line a minute, and the `explain` command's wording."""

from __future__ import annotations

import logging
from collections import Counter

from read_receipts.labels.openers import AGENT

log = logging.getLogger("read_receipts.silence")

EVERY = 60.0  # seconds between summary lines

# Why an open was stored without a note, by its state.
WHY_BY_STATE = {
    "unverified": "no requester id in the pixel URL",
    "rejected": "requester does not match the ticket",
    "deleted": "Zendesk has no such ticket",
    "closed": "ticket is closed",
    "opted_out": "requester opted out",
}


def why_not_noted(state: str, kind: str | None) -> str | None:
    """Why an open with this state and kind gets no note; None when it counts towards one."""
    if state in WHY_BY_STATE:
        return WHY_BY_STATE[state]
    if state == "skipped":
        return "agent address (IGNORE_IPS)" if kind == AGENT else f"labelled {kind} (not in NOTE_KINDS)"
    return None


class SilenceReport:
    """Sums the opens stored without a note, and logs the sums at most once a minute."""

    def __init__(self):
        self._reasons: Counter[str] = Counter()
        self._next_line = 0.0

    def add(self, verdicts, now: float) -> None:
        """Count a batch of verdicts; log the sums when a minute has passed since the last line."""
        for verdict in verdicts:
            reason = why_not_noted(verdict.state, verdict.kind)
            if reason:
                self._reasons[reason] += 1
        if self._reasons and now >= self._next_line:
            self._next_line = now + EVERY
            total = sum(self._reasons.values())
            parts = ", ".join(f"{count} {reason}" for reason, count in self._reasons.most_common())
            log.info("%d open%s stored without a note: %s", total, "" if total == 1 else "s", parts)
            self._reasons.clear()
