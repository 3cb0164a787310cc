"""The courier's own process: gunicorn's dirty-worker pool runs it beside the request workers, at a lower priority.

In a thread of a request worker, the courier shared that worker's interpreter
lock with the pixel, so a flood of opens slowed the pixel's answers. In a
process of its own, below the request workers' priority, it takes only the
CPU they leave, and catches up in bigger batches once they are quiet.
gunicorn starts it, restarts it if it dies, and stops it with the master
(gunicorn.conf.py names it); the request workers ring its doorbell.
"""

from __future__ import annotations

import logging
import os

from gunicorn.dirty.app import DirtyApp
from gunicorn.dirty.client import get_dirty_socket_path
from gunicorn.dirty.errors import DirtyError

from read_receipts.delivery.courier import POLL_MAX_SECONDS, POLL_SECONDS, Courier
from read_receipts.delivery.doorbell import Doorbell
from read_receipts.delivery.parts import courier_for
from read_receipts.intake.spool import Spool
from read_receipts.operations.startup import announce, configure_logging
from read_receipts.settings import Settings, load_settings_or_exit
from read_receipts.store import Stores

log = logging.getLogger(__name__)

NICENESS = 10  # added to the process's niceness: the request workers come first
# Courier threads that share the work through the store (claims and leases), as one courier per
# request worker did: while one waits on Zendesk, another checks a ticket or posts a note.
LANES = 2


def courier_runs_apart() -> bool:
    """Whether gunicorn runs the courier process beside this request worker (so the worker starts no courier).

    gunicorn's master knows the socket of its dirty-worker pool, and each worker
    inherits it, only when gunicorn.conf.py names the pool's apps.
    """
    try:
        get_dirty_socket_path()
    except DirtyError:
        return False
    return True


class CourierProcess(DirtyApp):
    """The instance's courier, as a gunicorn dirty app: started once, in one process."""

    workers = 1  # one courier process per instance: it drains every worker's spool segments

    def init(self) -> None:
        """Lower this process's priority, then start delivering."""
        try:
            os.nice(NICENESS)
        except OSError:  # not allowed: run at the workers' priority
            pass
        settings = load_settings_or_exit()
        configure_logging(settings.log_level)
        self.lanes = lanes(settings)
        announce(settings)
        for lane in self.lanes:
            lane.start()
        log.info("courier process %d started (niceness %d)", os.getpid(), os.getpriority(os.PRIO_PROCESS, 0))

    def close(self) -> None:
        """Let each lane finish its current call, and stop."""
        for lane in self.lanes:
            lane.stop()


def lanes(settings: Settings) -> list[Courier]:
    """The courier's lanes: the first drains the spool and is woken by the doorbell, and wakes the others."""
    stores = Stores(settings.database_url)
    # In a process of its own a courier takes no time from request threads: a backlog is worked off without pauses.
    others = [courier_for(settings, stores, None, rest_when_behind=False) for _ in range(LANES - 1)]

    def wake_others() -> None:
        """Work came in: the other lanes take their share now, not at their next poll."""
        for other in others:
            other.wake.set()

    doorbell = _doorbell(settings.spool_dir)
    spool = Spool(settings.spool_dir, drain_live=True, max_bytes=settings.spool_max_bytes)
    # Where nothing rings on new opens, the first lane looks every second.
    poll_max = POLL_MAX_SECONDS if doorbell is not None else POLL_SECONDS
    first = courier_for(
        settings, stores, spool, doorbell, poll_max=poll_max, on_busy=wake_others, rest_when_behind=False
    )
    return [first, *others]


def _doorbell(directory: str) -> Doorbell | None:
    """The doorbell in the spool directory, or None where a FIFO cannot be made there."""
    try:
        return Doorbell(directory)
    except OSError as error:
        log.warning(
            "cannot make the courier's doorbell in %s (%s): the courier looks for new opens every second instead",
            directory,
            error.strerror or error,
        )
        return None
