"""Who opted out of tracking (requesters, tracking-link recipients): kept in the store, copied to a local file.

The store is the truth. Each instance keeps a copy of the list in its spool
directory (one id a line), rewritten under a lock after every change made
here and at least every SYNC_SECONDS by the courier (changes made by other
instances or by the CLI elsewhere). The pixel reads only this copy: its hot
path never touches the database.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from read_receipts.intake.opt_out_copy import COPY_NAME, OptOutCopy, recipient_key, requester_of
from read_receipts.store.database import insert_ignore
from read_receipts.store.schema import opt_outs, recipient_opt_outs

log = logging.getLogger(__name__)

SYNC_SECONDS = 10.0  # how stale the copy may get when another instance or the CLI changed the list


@dataclass(frozen=True)
class OptOut:
    """One requester who is not tracked."""

    requester_id: int
    ticket_id: int | None  # the ticket whose email held the link; None when an admin added it
    opted_out_at: float


@dataclass(frozen=True)
class RecipientOptOut:
    """One tracking-link recipient who is not tracked."""

    recipient: str
    opted_out_at: float


class OptOuts:
    """The opt-outs in the store, with the instance's copy kept up to date."""

    def __init__(self, engine: Engine, directory: str | Path, fixed: frozenset[int] = frozenset()):
        self.engine = engine
        self.directory = Path(directory)
        self.fixed = fixed  # OPT_OUT_REQUESTERS: never tracked, whatever the store says
        self.copy = OptOutCopy(directory)
        self._next_sync = 0.0

    def covers(self, requester_id: int | None) -> bool:
        """Whether a requester is not to be tracked (the courier asks this of every load)."""
        if requester_id in self.fixed:
            return True
        self.refresh()
        return self.copy.covers(requester_id)

    def looking_once(self):
        """Within the block, look at the instance's copy once (see OptOutCopy.looking_once)."""
        return self.copy.looking_once()

    def covers_link(self, meta: dict) -> bool:
        """Whether a tracking link's metadata names a requester or recipient who is not to be tracked."""
        self.refresh()
        return self.copy.covers_link(meta) or requester_of(meta) in self.fixed

    def add(self, requester_id: int, ticket_id: int | None, now: float) -> bool:
        """Stop tracking a requester; False if they had already opted out."""
        with self.engine.begin() as conn:
            added = insert_ignore(conn, opt_outs, requester_id=requester_id, ticket_id=ticket_id, opted_out_at=now)
        if added:  # nothing changed otherwise: a link followed twice rewrites nothing
            self._sync_after_change()
        return added

    def revoke(self, requester_id: int) -> bool:
        """Track a requester again; False if they had not opted out."""
        with self.engine.begin() as conn:
            removed = conn.execute(delete(opt_outs).where(opt_outs.c.requester_id == requester_id)).rowcount
        if removed:
            self._sync_after_change()
        return bool(removed)

    def add_recipient(self, recipient: str, now: float) -> bool:
        """Stop tracking a tracking-link recipient; False if they had already opted out."""
        with self.engine.begin() as conn:
            added = insert_ignore(conn, recipient_opt_outs, recipient=recipient, opted_out_at=now)
        if added:  # nothing changed otherwise: a link followed twice rewrites nothing
            self._sync_after_change()
        return added

    def revoke_recipient(self, recipient: str) -> bool:
        """Track a tracking-link recipient again; False if they had not opted out."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(recipient_opt_outs).where(recipient_opt_outs.c.recipient == recipient)).rowcount
        if gone:
            self._sync_after_change()
        return bool(gone)

    def recipients(self) -> list[RecipientOptOut]:
        """Every tracking-link recipient who opted out, newest first."""
        table = recipient_opt_outs
        query = select(table).order_by(table.c.opted_out_at.desc(), table.c.recipient)
        with self.engine.connect() as conn:
            return [RecipientOptOut(row.recipient, row.opted_out_at) for row in conn.execute(query)]

    def listing(self) -> list[OptOut]:
        """Every opt-out in the store, newest first."""
        query = select(opt_outs).order_by(opt_outs.c.opted_out_at.desc(), opt_outs.c.requester_id)
        with self.engine.connect() as conn:
            return [OptOut(row.requester_id, row.ticket_id, row.opted_out_at) for row in conn.execute(query)]

    def refresh(self) -> None:
        """Rewrite the copy from the store if the last time was SYNC_SECONDS ago (changes made elsewhere)."""
        if time.monotonic() >= self._next_sync:
            self.sync()

    def _sync_after_change(self) -> None:
        """Rewrite the copy after a change the store took; if that fails, the courier's next sync does it."""
        try:
            self.sync()
        except SQLAlchemyError as error:
            log.warning("opt-out list stored, not yet copied (%s)", str(error).splitlines()[0][:200])

    def sync(self) -> None:
        """Rewrite the instance's copy from the store (and OPT_OUT_REQUESTERS)."""
        self._next_sync = time.monotonic() + SYNC_SECONDS
        try:
            with _locked(self.directory / (COPY_NAME + ".lock")):
                # Read under the lock: of two writers, the later one writes what the store holds last.
                with self.engine.connect() as conn:
                    requesters = set(conn.execute(select(opt_outs.c.requester_id)).scalars()) | self.fixed
                    recipients = conn.execute(select(recipient_opt_outs.c.recipient)).scalars()
                    entries = [str(i) for i in sorted(requesters)] + sorted(recipient_key(r) for r in recipients)
                _replace(self.directory / COPY_NAME, "".join(f"{entry}\n" for entry in entries))
        except OSError as error:  # no spool directory here (a one-off CLI run): the courier syncs it later
            log.warning(
                "cannot write the opt-out list to %s (%s); instances pick it up within %d seconds",
                self.directory,
                error.strerror or error,
                SYNC_SECONDS,
            )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on a file for as long as the block runs."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _replace(path: Path, text: str) -> None:
    """Write a file whole, then put it in place: a reader sees the old list or the new, never half."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.new")
    fresh.write_text(text)
    os.replace(fresh, path)
