"""Reads of the reply statuses for the dashboard: newest first, the ones nobody opened, figures per agent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select, true

from read_receipts.store.database import Database
from read_receipts.store.reply_statuses import ReplyFilter, ReplyState, ReplyStatus, described, matching
from read_receipts.store.schema import reply_statuses

AGENTS_MAX = 500  # rows of the agents table: a support team, not a call centre's history


@dataclass(frozen=True)
class Cursor:
    """Where a page of newest-first replies starts: below this time and id."""

    seen_at: float
    id: int


class _Shares:
    """The shares of a row of figures' replies read by a person and preloaded only."""

    sent: int
    read: int
    preloaded: int

    @property
    def read_share(self) -> float:
        return self.read / self.sent if self.sent else 0.0

    @property
    def preloaded_share(self) -> float:
        return self.preloaded / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class AgentFigures(_Shares):
    """One agent's replies over a period, and what became of them."""

    agent_id: int | None
    agent_name: str | None
    sent: int
    read: int
    preloaded: int
    median_to_read: float | None  # seconds from sent to the first read by a person


@dataclass(frozen=True)
class GroupFigures(_Shares):
    """The replies on one group's tickets over a period, and what became of them."""

    group_id: int
    group_name: str | None
    sent: int
    read: int
    preloaded: int
    median_to_read: float | None


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
    with store.reading() as conn:  # counts from three indexes, then a walk to each agent's middle read
        sent = _by_agent(conn, true(), since, until)
        read = _by_agent(conn, row.read_after.is_not(None), since, until, each_agent=False)  # a first read sets it
        preloaded = _by_agent(conn, row.status == ReplyStatus.PRELOADED, since, until, each_agent=False)
        busiest = sorted(sent, key=lambda agent: (-sent[agent], agent is None, agent))[:AGENTS_MAX]
        medians = {
            agent: _median_read_after(conn, _of_agent(agent), read.get(agent, 0), since, until) for agent in busiest
        }
    names = dict(agent_names(store))
    return [AgentFigures(a, names.get(a), sent[a], read.get(a, 0), preloaded.get(a, 0), medians[a]) for a in busiest]


def _by_agent(conn, which, since: float, until: float, each_agent: bool = True) -> dict[int | None, int]:
    """How many of the replies a condition picks each agent sent in a period (None: no agent named).

    `each_agent` for a condition no index holds with the agent first (all replies, by agent_id and seen_at);
    the read ones and the preloaded ones have theirs (the medians' index, and status's), read in its order.
    """
    row = reply_statuses.c

    def counted(agents) -> dict[int | None, int]:
        query = select(row.agent_id, func.count()).where(agents, which, row.seen_at >= since, row.seen_at < until)
        return dict(conn.execute(query.group_by(row.agent_id)).all())

    if conn.dialect.name != "sqlite" or not each_agent:  # PostgreSQL hashes the period's rows by agent
        return counted(true())
    # SQLite would sort the period's rows by agent: `agent_id IN (the agents)` makes each one an index range.
    named = agent_ids(limit=None).scalar_subquery()  # all of them: the busiest AGENTS_MAX are kept after
    return {**counted(row.agent_id.in_(named)), **counted(row.agent_id.is_(None))}


def groups(store: Database, since: float, until: float) -> list[GroupFigures]:
    """Replies sent per ticket group in a period, as `agents` counts them; none when the webhook named no group."""
    row = reply_statuses.c
    preloaded = func.sum(case((row.status == ReplyStatus.PRELOADED, 1), else_=0))
    counts = (
        select(row.group_id, func.count(), func.count(row.read_after), preloaded)
        .where(row.group_id.is_not(None), row.seen_at >= since, row.seen_at < until)
        .group_by(row.group_id)
    )
    with store.reading() as conn:  # a team has a few groups: one count over the period, then a query or two each
        found = sorted(conn.execute(counts).all(), key=lambda counted: (-counted[1], counted[0]))[:AGENTS_MAX]
        return [
            GroupFigures(
                group,
                _group_name(conn, group),
                sent,
                read,
                int(pre or 0),
                _median_read_after(conn, row.group_id == group, read, since, until),
            )
            for group, sent, read, pre in found
        ]


def _group_name(conn, group_id: int) -> str | None:
    """A group's latest name, as the webhook said it."""
    row = reply_statuses.c
    named = select(row.group_name).where(row.group_id == group_id, row.group_name.is_not(None))
    return conn.execute(named.order_by(row.seen_at.desc()).limit(1)).scalar()


def _of_agent(agent_id: int | None):
    """The condition picking an agent's replies (None: those no agent was named for)."""
    row = reply_statuses.c
    return row.agent_id.is_(None) if agent_id is None else row.agent_id == agent_id


def _median_read_after(conn, which, timed: int, since: float, until: float) -> float | None:
    """The median of the times to first read in a period of the replies a condition picks (an agent's, a group's)."""
    if not timed:  # the replies read in the period: those the walk goes through
        return None
    row = reply_statuses.c
    middle = (
        select(row.read_after)
        .where(
            which,
            row.read_after.is_not(None),  # as the index says: it holds these only
            row.seen_at >= since,
            row.seen_at < until,
        )
        .order_by(row.read_after)
        .offset((timed - 1) // 2)
        .limit(2 - timed % 2)
    )
    found = [max(0.0, delay) for delay in conn.execute(middle).scalars()]  # a read before its send counts as 0
    return sum(found) / len(found)


def agent_names(store: Database) -> list[tuple[int, str]]:
    """The agents the reply webhook named, for the filter (their ids from an index, each one's latest name)."""
    other = reply_statuses.alias("named").c
    ids = agent_ids().subquery()
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


def agent_ids(limit: int | None = AGENTS_MAX):
    """The agents the reply webhook named (the first `limit` by id), as a select: one index seek per agent.

    A DISTINCT would read every reply (PostgreSQL) or every index entry (SQLite); this skips from each
    agent to the next through the index, each step `min(agent_id) > the last one`.
    """
    row = reply_statuses.c
    found = select(func.min(row.agent_id).label("agent_id")).cte("agents", recursive=True)
    following = select(func.min(row.agent_id)).where(row.agent_id > found.c.agent_id).scalar_subquery()
    found = found.union_all(select(following).where(found.c.agent_id.is_not(None)))
    return select(found.c.agent_id).where(found.c.agent_id.is_not(None)).limit(limit)
