"""What a dry run (no Zendesk credentials) says of the loads it takes: a log line, never a note."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from read_receipts.delivery import notes
from read_receipts.store.opens import OpenState, Verdict

log = logging.getLogger("read_receipts.dry_run")

LINES = 20  # log lines per batch at most: a flood of loads in a dry run must not flood the log


def log_dry_run(verdicts: Sequence[Verdict], language: str, zone: str) -> None:
    """Log, once per ticket and reply of a batch, the note a dry-run load stands for, and that it is never posted."""
    words = notes.words(language, zone)
    seen: set[tuple[int, int]] = set()
    for verdict in verdicts:
        row = verdict.open
        reply = (row.comment_id or 0) if verdict.named else 0
        if verdict.state != OpenState.DRY_RUN or (row.ticket_id, reply) in seen:
            continue
        seen.add((row.ticket_id, reply))
        if len(seen) > LINES:
            continue
        # nothing is read from Zendesk in a dry run: the reply is named by its send time, if the img tag said it
        named = notes.NamedReply(verdict.sent_at if reply else None)
        body = words.first_open(row.opened_at, named, verdict.kind, verdict.client, verdict.sent_at)
        log.info("dry run: no note posted to ticket %s (no Zendesk credentials); it would say: %s", row.ticket_id, body)
    if len(seen) > LINES:
        log.info("dry run: %d more tickets' loads stored without a note", len(seen) - LINES)
