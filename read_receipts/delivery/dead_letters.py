"""Setting aside the one row the courier fails on, so every other row is still delivered."""

from __future__ import annotations

import logging

from sqlalchemy.exc import InterfaceError, OperationalError

from read_receipts.store import Store

log = logging.getLogger(__name__)


def is_poison(error: Exception) -> bool:
    """Whether a failure belongs to the row at hand (a store that is down or busy is not the row's fault)."""
    return not isinstance(error, OperationalError | InterfaceError)


def set_aside(store: Store, kind: str, row_id: int, error: Exception) -> None:
    """Move a row to the dead letters with its error, and say so once in the log."""
    reason = f"{type(error).__name__}: {error}"
    if store.set_aside(kind, row_id, reason):
        log.warning("set aside %s %s (see `flask --app app dead-letters list`): %s", kind[:-1], row_id, reason[:200])
