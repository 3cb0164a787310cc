"""Pixel opens: recording them, finding the ones triage can decide, and settling its verdicts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, exists, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from read_receipts.store.counting import counted_as
from read_receipts.store.database import OPEN_COLUMNS, Database
from read_receipts.store.replies import ByReply, count_replies
from read_receipts.store.rollups import add_counts, add_tallies, utc_day
from read_receipts.store.schema import daily_opens, opens, tickets, webhooks
from read_receipts.store.tickets import comment_listed

_LABEL = (
    update(opens)
    .where(opens.c.id == bindparam("i"))
    .values(client=bindparam("c"), kind=bindparam("k"), ip=bindparam("a"), user_agent=bindparam("u"))
)


@dataclass(frozen=True)
class Verdict:
    """What triage decided about one open."""

    open: Row
    state: str  # counted, skipped, rejected, unverified, closed or deleted
    client: str = ""
    kind: str = ""
    sent_at: float | None = None
    ip: str | None = None  # the address as it is kept (IP_STORAGE)
    named: bool = True  # False: the reply id is not a public comment of the ticket, so "a reply"
    user_agent_kept: bool = True  # False: KEEP_USER_AGENT=false, the label stays and the User-Agent goes


class OpenStore(Database):
    """Reads and writes of pixel opens."""

    def record_open(self, values: dict) -> None:
        """Store one open directly (the pixel spools its opens; this serves imports and tests)."""
        with self.engine.begin() as conn:
            conn.execute(insert(opens).values(signed=False, **values))

    def decidable_opens(self, verify: bool, limit: int) -> Sequence[Row]:
        """Return new opens that need no call to Zendesk to be decided, oldest first.

        With verification on, that is opens whose ticket Zendesk already
        described, and opens without a requester (they can never match).
        """
        query = select(*(opens.c[name] for name in ("id", *OPEN_COLUMNS)))
        if verify:
            # A reply id is taken as named once the ticket's comments were read after the open came.
            reply_known = or_(
                opens.c.comment_id.is_(None),
                tickets.c.status.in_(("closed", "deleted")),
                tickets.c.opted_out.is_(True),
                tickets.c.requester_id != opens.c.requester_id,
                tickets.c.comments_at >= opens.c.opened_at,
                comment_listed(),
            )
            described = exists().where(
                tickets.c.ticket_id == opens.c.ticket_id, tickets.c.status != "checking", reply_known
            )
            query = query.where(or_(opens.c.signed.is_(True), opens.c.requester_id.is_(None), described))
        with self.reading() as conn:
            return conn.execute(query.where(opens.c.state == "new").order_by(opens.c.id).limit(limit)).all()

    def settle_opens(
        self, verdicts: Sequence[Verdict], now: float, interval: float, calls_for: Callable | None = None
    ) -> None:
        """Record each open's verdict and label, count the counted ones, and queue their notes.

        One short transaction for the whole batch keeps SQLite's write lock free
        for the pixel. An open another worker settled first is skipped.
        """
        if not verdicts:
            return
        with self.engine.begin() as conn:
            settled: set[int] = set()
            for state in {verdict.state for verdict in verdicts}:
                settled.update(_settle(conn, [v.open.id for v in verdicts if v.state == state], state=state))
            labels = _label_opens(conn, verdicts, settled)
            _count_labels(conn, verdicts, labels)
            counted = _by_reply(v for v in verdicts if v.state == "counted" and v.open.id in settled)
            if counted:
                count_replies(conn, counted, now, interval)
            calls = [call for v in verdicts if v.open.id in settled for call in (calls_for(v) if calls_for else [])]
            if calls:  # in the same transaction: a settled open's webhook is never lost
                conn.execute(insert(webhooks), [{**call, "created_at": now, "due_at": now} for call in calls])

    def open_by_id(self, open_id: int) -> Row | None:
        """Return one stored open."""
        with self.reading() as conn:
            return conn.execute(select(opens).where(opens.c.id == open_id)).first()


def _settle(conn: Connection, ids: Sequence[int], **values: str) -> list[int]:
    """Move opens out of `new` with their state and label; return the ids this transaction moved."""
    settled = conn.execute(
        update(opens).where(opens.c.id.in_(ids), opens.c.state == "new").values(**values).returning(opens.c.id)
    )
    return list(settled.scalars())


def _label_opens(conn: Connection, verdicts: Sequence[Verdict], settled: set[int]) -> list[dict]:
    """Write the label of each open this transaction settled; return the labels written."""
    labels = [
        {
            "i": v.open.id,
            "c": v.client[:40] or None,
            "k": v.kind or None,
            "a": v.ip,
            "u": v.open.user_agent if v.user_agent_kept else None,
        }
        for v in verdicts
        if v.open.id in settled
    ]
    if labels:
        conn.execute(_LABEL, labels)
    untracked = [v.open.id for v in verdicts if v.state == "opted_out" and v.open.id in settled]
    if untracked:  # an opted-out requester's load keeps no trace of the reader
        conn.execute(update(opens).where(opens.c.id.in_(untracked)).values(ip=None, user_agent=None))
    return labels


def _count_labels(conn: Connection, verdicts: Sequence[Verdict], labels: list[dict]) -> None:
    """Add the labelled opens to the tallies by kind and to the daily counts by kind and client."""
    kinds: dict[str, int] = {}
    days: dict[tuple[str, str, str], int] = {}
    opened = {v.open.id: v.open.opened_at for v in verdicts}
    states = {v.open.id: v.state for v in verdicts}
    for label in labels:
        kind = counted_as(states[label["i"]], label["k"])  # only verified loads count as readers
        kinds[f"opens:{kind}"] = kinds.get(f"opens:{kind}", 0) + 1
        day = (utc_day(opened[label["i"]]), kind, label["c"] or "")
        days[day] = days.get(day, 0) + 1
    add_tallies(conn, kinds)
    add_counts(conn, daily_opens, ("day", "kind", "client"), days)


def _by_reply(verdicts: Iterable[Verdict]) -> ByReply:
    """Group verdicts by the reply their open opened, oldest first."""
    groups: ByReply = {}
    for verdict in sorted(verdicts, key=lambda v: v.open.id):
        reply = (verdict.open.comment_id or 0) if verdict.named else 0
        groups.setdefault((verdict.open.ticket_id, reply), []).append(verdict)
    return groups
