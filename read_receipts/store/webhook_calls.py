"""The outbox of webhook calls: queued with the opens and events they tell of, leased, retried, finished."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from read_receipts.store.database import insert_rows
from read_receipts.store.outbox import PENDING as WAITING
from read_receipts.store.outbox import Outbox, OutboxRow
from read_receipts.store.schema import webhooks


class WebhookState(StrEnum):
    """Where a webhook call is: waiting, or how it ended."""

    PENDING = WAITING  # as every outbox row waits
    DONE = "done"  # the receiver answered 2xx
    FAILED = "failed"  # still failing after the retry period
    DEAD = "dead"  # our own code failed on it: see last_error


@dataclass(frozen=True)
class Call:
    """A webhook call to queue: one event, to one receiver."""

    event_id: str  # the receiver's key for de-duplication
    url: str
    payload: str


@dataclass(frozen=True)
class WebhookCall(OutboxRow):
    """One queued webhook call."""

    event_id: str
    url: str
    payload: str


class WebhookCalls(Outbox[WebhookCall]):
    """Claims, releases and outcomes of queued webhook calls."""

    table = webhooks
    record = WebhookCall

    def claim(self, now: float, lease: float, limit: int) -> list[WebhookCall]:
        """Lease up to `limit` due calls to this caller."""
        return self._claim(now, lease, limit)

    def unlease(self, calls: Sequence[WebhookCall]) -> None:
        """Give leased calls back untried."""
        if calls:
            with self.engine.begin() as conn:
                conn.execute(update(webhooks).where(*_leased(calls)).values(lease_until=0))

    def finish(
        self, calls: Sequence[WebhookCall], state: WebhookState, now: float, status: int | None = None, error: str = ""
    ) -> None:
        """Record the final outcome of the calls of one POST, in one statement."""
        with self.engine.begin() as conn:
            conn.execute(
                update(webhooks)
                .where(*_leased(calls))
                .values(
                    state=state,
                    done_at=now,
                    lease_until=0,
                    last_status=status,
                    last_error=error[:300] or None,
                )
            )

    def retry(self, calls: Sequence[WebhookCall], due: float, status: int | None = None, error: str = "") -> None:
        """Give back the calls of one failed POST, to be tried again together at `due`, counting the attempt."""
        with self.engine.begin() as conn:
            conn.execute(
                update(webhooks)
                .where(*_leased(calls))
                .values(
                    due_at=due,
                    lease_until=0,
                    attempts=webhooks.c.attempts + 1,
                    last_status=status,
                    last_error=error[:300] or None,
                )
            )

    def all(self) -> list[WebhookCall]:
        """Return every call, oldest first."""
        with self.reading() as conn:
            return [WebhookCall.of(row) for row in conn.execute(select(webhooks).order_by(webhooks.c.id))]


def _leased(calls: Sequence[WebhookCall]) -> tuple:
    """Select these calls, while their lease is still the caller's."""
    tokens = {call.lease_owner for call in calls}
    return webhooks.c.id.in_([call.id for call in calls]), webhooks.c.lease_owner.in_(tokens)


def queue_calls(conn: Connection, calls: Sequence[Call], now: float) -> None:
    """Add calls to the outbox, due now, in the caller's transaction (the open or event they tell of is never lost)."""
    if calls:
        rows = [
            {"event_id": c.event_id, "url": c.url, "payload": c.payload, "created_at": now, "due_at": now}
            for c in calls
        ]
        insert_rows(conn, webhooks, [{**row, "state": WebhookState.PENDING} for row in rows])
