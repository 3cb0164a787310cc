"""Spooled opens and events moved into the store, exactly once, with how far each spool segment got."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from read_receipts.store.database import EVENT_COLUMNS, OPEN_COLUMNS, Database, insert_ignore, insert_rows
from read_receipts.store.rollups import add_tallies
from read_receipts.store.schema import events, opens, spool_segments, store_identity


class StaleSpoolPosition(RuntimeError):
    """Another courier moved this part of the segment first: nothing was stored."""


class SpoolStore(Database):
    """Reads and writes of the spool's segment positions, and the rows they carry."""

    def spool_position(self, segment: str) -> tuple[int, bool] | None:
        """How far a segment was stored, and whether it was fully stored; None for one never seen."""
        with self.reading() as conn:
            row = conn.execute(
                select(spool_segments.c.position, spool_segments.c.done).where(spool_segments.c.segment == segment)
            ).first()
        return (row.position, row.done) if row else None

    def spool_positions(self, segments: Iterable[str]) -> dict[str, int]:
        """How far each of these segments was stored (those never seen are left out)."""
        names = list(segments)
        if not names:
            return {}
        query = select(spool_segments.c.segment, spool_segments.c.position)
        with self.reading() as conn:
            return dict(conn.execute(query.where(spool_segments.c.segment.in_(names))).all())

    def store_spooled(
        self,
        segment: str,
        start: int | None,
        end: int,
        records: Sequence[dict],
        now: float,
        one_by_one: bool = False,
        **counts: int,
    ) -> None:
        """Insert a segment's records and advance its position from `start` to `end`, in one transaction.

        `start` is None for a segment never stored from; done=True marks it fully stored. Raises
        StaleSpoolPosition (storing nothing) when the position is no longer `start`. With one_by_one,
        each record goes in on its own savepoint, and one the store refuses is counted as unreadable.
        """
        done = bool(counts.pop("done", False))
        with self.engine.begin() as conn:
            position = {"position": end, "done": done, "updated_at": now}
            if start is None:
                moved = insert_ignore(conn, spool_segments, segment=segment, **position)
            else:
                moved = conn.execute(
                    update(spool_segments)
                    .where(spool_segments.c.segment == segment, spool_segments.c.position == start)
                    .values(**position)
                    .returning(spool_segments.c.segment)
                ).first()
            if not moved:
                raise StaleSpoolPosition(segment)
            if one_by_one:
                counts["unreadable"] = counts.get("unreadable", 0) + _insert_each(conn, records)
            else:
                _insert_all(conn, records)
            add_tallies(conn, {f"spool:{name}": n for name, n in counts.items() if n})

    def forget_spool_segment(self, segment: str) -> None:
        """Drop the position of a segment whose file was deleted, fully stored."""
        with self.engine.begin() as conn:
            conn.execute(spool_segments.delete().where(spool_segments.c.segment == segment))

    def store_id(self) -> str:
        """The store's own id, made on first use: a spool directory names it to belong to this store."""
        with self.engine.begin() as conn:
            insert_ignore(conn, store_identity, name="store", value=uuid.uuid4().hex)
            return conn.execute(select(store_identity.c.value).where(store_identity.c.name == "store")).scalar_one()

    def count_spool_losses(self, lost: int) -> None:
        """Add records the spool could not write to the tally /metrics reports."""
        with self.engine.begin() as conn:
            add_tallies(conn, {"spool:lost": lost})


def _insert_all(conn, records: Sequence[dict]) -> None:
    """Insert spooled opens and events, a statement for each table."""
    _insert(conn, opens, OPEN_COLUMNS, [r for r in records if r.get("k") == "o"], {"signed": False})
    _insert(conn, events, EVENT_COLUMNS, [r for r in records if r.get("k") == "e"], {})


def _insert_each(conn, records: Sequence[dict]) -> int:
    """Insert records one at a time, each on a savepoint; return how many the store refused."""
    refused = 0
    for record in records:
        try:
            with conn.begin_nested():
                _insert_all(conn, [record])
        except StatementError as error:
            if not refused_record(error):
                raise  # the store is away or busy: the whole batch waits
            refused += 1
    return refused


def refused_record(error: StatementError) -> bool:
    """Whether the store refused a record itself (a constraint, a value it cannot hold), not its connection."""
    return isinstance(error, DataError | IntegrityError) or not isinstance(error, DBAPIError)


def _insert(conn, table, columns: Sequence[str], records: list[dict], defaults: dict) -> None:
    """Insert records as rows of a table, keeping only its columns (one statement for them all)."""
    insert_rows(conn, table, [{c: r.get(c, defaults.get(c)) for c in columns} for r in records])
