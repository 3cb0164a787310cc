"""Setting aside the one row the courier fails on, so every other row is still delivered."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from read_receipts.store.dead_letters import DeadLetters

log = logging.getLogger(__name__)


def is_poison(error: Exception) -> bool:
    """Whether a failure belongs to the row at hand (a store that is down or busy is not the row's fault)."""
    return not isinstance(error, OperationalError | InterfaceError)


def set_aside(dead_letters: DeadLetters, kind: str, row_id: int, error: Exception) -> None:
    """Move a row to the dead letters with its error, and say so once in the log."""
    reason = f"{type(error).__name__}: {error}"
    if dead_letters.set_aside(kind, row_id, reason):
        log.warning("set aside %s %s (see `flask --app app dead-letters list`): %s", kind[:-1], row_id, reason[:200])


def or_set_aside(
    dead_letters: DeadLetters, kind: str, row_id: int, work: Callable[[], Any], fallback: Any = None
) -> Any:
    """Do one row's work; if our own code fails on the row, set it aside and return `fallback` instead."""
    try:
        return work()
    except Exception as error:
        if not is_poison(error):
            raise  # the store is down or busy: not the row's fault
        set_aside(dead_letters, kind, row_id, error)
        return fallback


def in_batch_or_alone(
    dead_letters: DeadLetters, kind: str, rows: Sequence, work: Callable[[Sequence], None], row_id
) -> None:
    """Do a batch's work in one go; if it fails, do each row alone and set aside the ones at fault."""
    try:
        work(rows)
    except Exception as error:
        if not is_poison(error):
            raise
        for row in rows:
            or_set_aside(dead_letters, kind, row_id(row), lambda row=row: work([row]))
