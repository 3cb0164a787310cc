"""Each reply's status: not opened, loaded by machines only, preloaded by Apple, or read by a person.

This module is the only writer of `reply_statuses.status`, and it moves forward only:
not_opened -> machines -> preloaded -> read (any step may be skipped; nothing moves it back).
It keeps `read_after` (first_read_at - seen_at) true whenever either changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.engine import Connection

from read_receipts.labels.openers import AGENT, APPLE_PRELOAD, PERSON
from read_receipts.store.database import Record, dialect
from read_receipts.store.schema import comments, reply_statuses, tickets


class ReplyStatus(StrEnum):
    """What became of a reply the trigger emailed, by who loaded its images."""

    NOT_OPENED = "not_opened"  # sent, nothing loaded it yet
    MACHINES = "machines"  # only machines: scanners, prefetches, bots
    PRELOADED = "preloaded"  # Apple Mail Privacy Protection fetched it: delivered to Apple Mail, maybe unread
    READ = "read"  # a person read it


# The order a status moves forward in.
RANK = {status: rank for rank, status in enumerate(ReplyStatus)}


def status_of_kind(kind: str | None) -> ReplyStatus | None:
    """The status one load of a kind gives a reply; None for the team's own loads."""
    if kind == AGENT or not kind:
        return None
    if kind == PERSON:
        return ReplyStatus.READ
    return ReplyStatus.PRELOADED if kind == APPLE_PRELOAD else ReplyStatus.MACHINES


def status_of(kinds: Iterable[str]) -> ReplyStatus:
    """What a reply's loads amount to: a person's read outranks a preload, which outranks machines."""
    found = [status for status in map(status_of_kind, kinds) if status is not None]
    return max(found, key=RANK.__getitem__, default=ReplyStatus.NOT_OPENED)


@dataclass(frozen=True)
class Load:
    """One verified load of a reply, as its status takes it."""

    ticket_id: int
    reply_key: int
    opened_at: float
    kind: str
    client: str
    sent_at: float | None


@dataclass(frozen=True)
class ReplyState(Record):
    """One reply's status, who could have read it, and who wrote it."""

    id: int
    ticket_id: int
    reply_key: int
    status: str  # a ReplyStatus
    seen_at: float  # the reply's time as best known: sent, else first loaded
    sent_at: float | None
    first_read_at: float | None
    reads: int
    client: str | None
    agent_id: int | None
    agent_name: str | None
    written_at: float | None = None  # the comment's created_at, as Zendesk listed it
    author_name: str | None = None  # who wrote the comment (side-loaded), when the webhook did not say
    ccs: int = 0  # people in copy of the ticket's emails: each could have opened it

    @property
    def author(self) -> str | None:
        """Who replied: as the reply-sent webhook said, else the comment's author."""
        return self.agent_name or self.author_name


def sent(
    conn: Connection,
    ticket_id: int,
    reply_key: int,
    sent_at: float,
    agent_id: int | None,
    agent_name: str | None,
    group: tuple[int, str | None] | None = None,
) -> None:
    """Record a reply Zendesk says it sent (not opened, unless its pixel came first), with who replied and the group."""
    row = {"ticket_id": ticket_id, "reply_key": reply_key, "status": ReplyStatus.NOT_OPENED, "seen_at": sent_at}
    group_id, group_name = group or (None, None)
    who = {"agent_id": agent_id, "agent_name": agent_name, "group_id": group_id, "group_name": group_name}
    upsert = dialect(conn).insert(reply_statuses).values(**row, sent_at=sent_at, **who)
    later, seen_at = upsert.excluded, _earlier(reply_statuses.c.seen_at, upsert.excluded.seen_at)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[reply_statuses.c.ticket_id, reply_statuses.c.reply_key],
            set_={
                "sent_at": func.coalesce(reply_statuses.c.sent_at, later.sent_at),
                "seen_at": seen_at,
                "read_after": reply_statuses.c.first_read_at - seen_at,  # the reply's time may move earlier
                "agent_id": func.coalesce(later.agent_id, reply_statuses.c.agent_id),
                "agent_name": func.coalesce(later.agent_name, reply_statuses.c.agent_name),
                "group_id": func.coalesce(later.group_id, reply_statuses.c.group_id),
                "group_name": func.coalesce(later.group_name, reply_statuses.c.group_name),
            },
        )
    )


def loaded(conn: Connection, loads: Sequence[Load]) -> None:
    """Move the statuses of the loaded replies forward, in the caller's transaction (one statement)."""
    rows = [_row(key, group) for key, group in _by_reply(loads).items()]
    if not rows:
        return
    upsert = dialect(conn).insert(reply_statuses)
    new, old = upsert.excluded, reply_statuses.c
    upsert = upsert.on_conflict_do_update(
        index_elements=[old.ticket_id, old.reply_key],
        set_={
            "status": case((_rank(new.status) > _rank(old.status), new.status), else_=old.status),
            "sent_at": func.coalesce(old.sent_at, new.sent_at),
            "first_read_at": func.coalesce(old.first_read_at, new.first_read_at),
            "read_after": func.coalesce(old.first_read_at, new.first_read_at) - old.seen_at,
            "reads": old.reads + new.reads,
            "client": func.coalesce(old.client, new.client),
        },
    )
    conn.execute(upsert, rows)  # executemany: compiled once


def _earlier(one, other):
    """The earlier of two times, as SQL (SQLite and PostgreSQL name their two-argument minimum differently)."""
    return case((one < other, one), else_=other)


def _rank(status):
    """A status's place in the order it moves forward in, as SQL."""
    return case(*((status == literal(str(s)), rank) for s, rank in RANK.items()), else_=0)


def _by_reply(loads: Iterable[Load]) -> dict[tuple[int, int], list[Load]]:
    """Group loads by reply, oldest first; the team's own loads are left out."""
    groups: dict[tuple[int, int], list[Load]] = {}
    for one in sorted(loads, key=lambda load: load.opened_at):
        if status_of_kind(one.kind) is not None:
            groups.setdefault((one.ticket_id, one.reply_key), []).append(one)
    return groups


def _row(key: tuple[int, int], group: list[Load]) -> dict:
    """The status row one batch of a reply's loads gives it."""
    status = status_of(load.kind for load in group)
    reads = [load for load in group if load.kind == PERSON]
    sent_at = next((load.sent_at for load in group if load.sent_at is not None), None)
    seen_at = sent_at if sent_at is not None else group[0].opened_at
    return {
        "ticket_id": key[0],
        "reply_key": key[1],
        "status": status,
        "seen_at": seen_at,
        "sent_at": sent_at,
        "first_read_at": reads[0].opened_at if reads else None,
        "read_after": reads[0].opened_at - seen_at if reads else None,
        "reads": len(reads),
        "client": (reads[0].client or None) if reads else None,
    }


@dataclass(frozen=True)
class ReplyFilter:
    """Which replies a listing shows (None: any)."""

    status: ReplyStatus | None = None
    agent_id: int | None = None
    ticket_id: int | None = None
    since: float | None = None  # the reply's time (sent, else first loaded), from
    until: float | None = None  # and before


def described():
    """Reply statuses with the comment's time and author and the ticket's people in copy, as one select."""
    of_comment = and_(
        comments.c.ticket_id == reply_statuses.c.ticket_id, comments.c.comment_id == reply_statuses.c.reply_key
    )
    joined = reply_statuses.outerjoin(comments, of_comment).outerjoin(
        tickets, tickets.c.ticket_id == reply_statuses.c.ticket_id
    )
    return select(
        reply_statuses,
        comments.c.created_at.label("written_at"),
        comments.c.author_name,
        func.coalesce(tickets.c.ccs, 0).label("ccs"),
    ).select_from(joined)


def matching(query, wanted: ReplyFilter):
    """Narrow a select of described() to the replies a filter wants."""
    row = reply_statuses.c
    for column, value in (
        (row.status, wanted.status),
        (row.agent_id, wanted.agent_id),
        (row.ticket_id, wanted.ticket_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if wanted.since is not None:
        query = query.where(row.seen_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(row.seen_at < wanted.until)
    return query
