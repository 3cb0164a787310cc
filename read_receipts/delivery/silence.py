"""Why opens got no note, in plain words, one log line a minute (the words are the opens' states')."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from read_receipts.store.opens import Verdict, why_not_noted

log = logging.getLogger("read_receipts.silence")

EVERY = 60.0  # seconds between summary lines


class SilenceReport:
    """Sums the opens stored without a note, and logs the sums at most once a minute."""

    def __init__(self):
        self._reasons: Counter[str] = Counter()
        self._next_line = 0.0

    def add(self, verdicts: Sequence[Verdict], now: float) -> None:
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
