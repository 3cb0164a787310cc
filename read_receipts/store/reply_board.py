"""Reads of the reply statuses for the dashboard: newest first, the ones nobody opened, figures per agent."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from sqlalchemy import and_, func, or_, select

from read_receipts.store.database import Database
from read_receipts.store.reply_statuses import ReplyFilter, ReplyState, ReplyStatus, described, matching
from read_receipts.store.schema import reply_statuses

AGENTS_MAX = 500  # rows of the agents table: a support team, not a call centre's history


@dataclass(frozen=True)
class Cursor:
    """Where a page of newest-first replies starts: below this time and id."""

    seen_at: float
    id: int


@dataclass(frozen=True)
class AgentFigures:
    """One agent's replies over a period, and what became of them."""

    agent_id: int | None
    agent_name: str | None
    sent: int
    read: int
    preloaded: int
    median_to_read: float | None  # seconds from sent to the first read by a person

    @property
    def read_share(self) -> float:
        return self.read / self.sent if self.sent else 0.0

    @property
    def preloaded_share(self) -> float:
        return self.preloaded / self.sent if self.sent else 0.0


def newest(store: Database, wanted: ReplyFilter, below: Cursor | None, limit: int) -> list[ReplyState]:
    """A page of the replies a filter wants, newest first, starting below a cursor (keyset paging)."""
    row = reply_statuses.c
    query = matching(described(), wanted)
    if below is not None:
        query = query.where(or_(row.seen_at < below.seen_at, and_(row.seen_at == below.seen_at, row.id < below.id)))
    with store.reading() as conn:
        found = conn.execute(query.order_by(row.seen_at.desc(), row.id.desc()).limit(limit))
        return [ReplyState.of(one) for one in found]


def unopened(store: Database, sent_before: float, wanted: ReplyFilter, limit: int) -> tuple[int, list[ReplyState]]:
    """How many replies sent before a time nothing opened yet, and the newest of them."""
    row = reply_statuses.c
    narrowed = ReplyFilter(ReplyStatus.NOT_OPENED, wanted.agent_id, wanted.ticket_id, wanted.since, wanted.until)
    query = matching(described(), narrowed).where(row.seen_at < sent_before)
    counted = matching(select(func.count()).select_from(reply_statuses), narrowed).where(row.seen_at < sent_before)
    with store.reading() as conn:
        total = conn.execute(counted).scalar_one()
        found = conn.execute(query.order_by(row.seen_at.desc(), row.id.desc()).limit(limit))
        return total, [ReplyState.of(one) for one in found]


def agents(store: Database, since: float, until: float) -> list[AgentFigures]:
    """Replies sent per agent in a period: how many, read by a person, preloaded only, median time to read."""
    row = reply_statuses.c
    period = (row.seen_at >= since, row.seen_at < until)
    counts = (
        select(
            row.agent_id,
            func.count().label("sent"),
            func.count().filter(row.status == ReplyStatus.READ).label("read"),
            func.count().filter(row.status == ReplyStatus.PRELOADED).label("preloaded"),
        )
        .where(*period)
        .group_by(row.agent_id)
        .order_by(func.count().desc())
        .limit(AGENTS_MAX)
    )
    delays = select(row.agent_id, row.first_read_at - row.seen_at).where(
        *period, row.status == ReplyStatus.READ, row.first_read_at.is_not(None)
    )
    with store.reading() as conn:  # both read the figures' index only, never the table
        totals = conn.execute(counts).all()
        waits: dict[int | None, list[float]] = {}
        for agent_id, delay in conn.execute(delays):
            waits.setdefault(agent_id, []).append(max(0.0, delay))
    names = dict(agent_names(store))
    return [
        AgentFigures(
            t.agent_id,
            names.get(t.agent_id),
            t.sent,
            t.read,
            t.preloaded,
            median(waits[t.agent_id]) if t.agent_id in waits else None,
        )
        for t in totals
    ]


def agent_names(store: Database) -> list[tuple[int, str]]:
    """The agents the reply webhook named, for the filter (their ids from an index, each one's latest name)."""
    row, other = reply_statuses.c, reply_statuses.alias("named").c
    ids = select(row.agent_id).where(row.agent_id.is_not(None)).distinct().limit(AGENTS_MAX).subquery()
    name = (
        select(other.agent_name)
        .where(other.agent_id == ids.c.agent_id, other.agent_name.is_not(None))
        .order_by(other.seen_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    with store.reading() as conn:
        found = conn.execute(select(ids.c.agent_id, name))
        return sorted(((a, n or f"agent {a}") for a, n in found), key=lambda pair: pair[1].lower())
