"""Moving spooled opens and events into the store: in batches, exactly once, whatever dies in between."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import StatementError

from read_receipts.intake.spool import Backlog, Segment, Spool
from read_receipts.store.spooling import SpoolStore, StaleSpoolPosition, refused_record

log = logging.getLogger(__name__)

BATCH_RECORDS = 2000  # records per transaction: fewer statements per open while a flood is stored
LOSS_TALLY_SECONDS = 1.0  # a request worker adds its spool losses to the store's tally this long after one
LOSS_RETRY_SECONDS = 5.0  # ... and tries again this often while the store is away


def tally_losses(store: SpoolStore, spool: Spool) -> None:
    """Add the records the spool could not take to the store's tally; kept for later if the store is away."""
    lost = spool.take_lost()
    if lost:
        try:
            store.count_spool_losses(lost)
        except Exception:
            spool.put_back_lost(lost)
            raise


class LossTally:
    """In a request worker whose courier is another process: a thread that tallies the spool's losses.

    `lost` is the Event the spool sets on each loss (its on_loss).
    """

    def __init__(self, store: SpoolStore, spool: Spool, lost: threading.Event):
        self.store, self.spool, self.lost = store, spool, lost

    def start(self) -> None:
        """Start tallying, in a daemon thread."""
        threading.Thread(target=self._loop, name="spool-losses", daemon=True).start()

    def _loop(self) -> None:
        """Sleep until a loss, then tally it (and any that follow within a second)."""
        failing = False
        while True:
            self.lost.wait()
            time.sleep(LOSS_TALLY_SECONDS)
            self.lost.clear()
            try:
                tally_losses(self.store, self.spool)
                failing = False
            except Exception as error:  # the store is away: the count waits in the spool object
                if not failing:  # said once per outage, not every few seconds
                    log.warning("could not count lost spool records in the store yet (%s)", type(error).__name__)
                failing = True
                self.lost.set()
                time.sleep(LOSS_RETRY_SECONDS)


class SpoolDrain:
    """Drains this process's segment, and any segment of the instance that no writer holds any more."""

    def __init__(self, store: SpoolStore, spool: Spool):
        self.store = store
        self.spool = spool
        self.positions: dict[str, int] = {}  # how far segments were stored, as this process last knew

    def run(self, now: float) -> bool:
        """Move every complete record spooled so far into the store; True if any moved.

        Also True while another courier on this spool (a second instance, or the new master
        of a USR2 upgrade) drains it: this one looks again shortly, for what that one missed.
        """
        tally_losses(self.store, self.spool)
        with self.spool.draining() as held:
            return self._drain_all(now) if held else True

    def _drain_all(self, now: float) -> bool:
        """Drain each segment in turn, deleting those fully stored, under the spool's drain lock."""
        moved = False
        names = self.spool.segment_names()
        listed = set(names)  # segments another courier finished are gone: so are their positions here
        self.positions = {name: at for name, at in self.positions.items() if name in listed}
        for name in names:
            segment = self.spool.open_segment(name)
            if segment is None:
                continue  # another process writes or drains it
            finished = False
            try:
                moved = self._drain(segment, now) or moved
            finally:
                finished = segment.sealed and self._fully_stored(segment)
                segment.close(delete=finished)
            if finished:  # only once the file is gone: a position never goes while its file remains
                self.store.forget_spool_segment(name)
        return moved

    def _drain(self, segment: Segment, now: float) -> bool:
        """Store a segment's complete records from where it was left, a batch per transaction."""
        start = self._position(segment.name)
        moved = False
        while True:
            batch = segment.read(start or 0, BATCH_RECORDS)
            done = segment.sealed and batch.end >= segment.size()
            if batch.end == (start or 0) and not done:
                return moved  # nothing new yet
            if batch.unreadable:
                log.warning("spool segment %s: %d unreadable lines skipped", segment.name, batch.unreadable)
            try:
                self._store(segment.name, start, batch, now, done)
            except StaleSpoolPosition:
                self.positions.pop(segment.name, None)  # another courier got there first: look again next round
                return moved
            self.positions[segment.name] = start = batch.end
            moved = moved or bool(batch.records)
            if done:
                return moved

    def _store(self, name: str, start: int | None, batch, now: float, done: bool) -> None:
        """Store a batch in one statement a table; if the store refuses a record, store them one by one instead."""
        try:
            self.store.store_spooled(name, start, batch.end, batch.records, now, done=done, unreadable=batch.unreadable)
        except StatementError as error:
            if not refused_record(error):
                raise  # the store is away or busy: the spool waits for it
            # a record no store takes must not stop the spool
            log.warning("spool segment %s: the store refused a record; storing the batch one record at a time", name)
            self.store.store_spooled(
                name, start, batch.end, batch.records, now, one_by_one=True, done=done, unreadable=batch.unreadable
            )

    def _position(self, name: str) -> int | None:
        """Where draining a segment starts (None: it was never stored from)."""
        if name in self.positions:
            return self.positions[name]
        known = self.store.spool_position(name)
        if known is None:
            return None
        self.positions[name] = known[0]
        return known[0]

    def _fully_stored(self, segment: Segment) -> bool:
        """Whether a sealed segment has nothing left to store (so its file can go)."""
        position = self.positions.get(segment.name)
        stored = position is not None and position >= segment.size()
        if stored:
            self.positions.pop(segment.name, None)
        return stored

    def backlog(self, now: float) -> Backlog:
        """The instance's spool: bytes not yet stored and the oldest record's age (positions from the store when it answers)."""
        names = self.spool.segment_names()
        try:
            positions = self.store.spool_positions(names)
        except Exception:  # the store is away: what this process knows
            positions = self.positions
        return self.spool.backlog(positions, now)
