"""Schema migrations (Alembic): bring a database to this release's schema, once, under a lock."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST = "0001"
# The tables of the first revision: a database holding them but no alembic_version
# was made by create_all before migrations existed, and is stamped, not recreated.
FIRST_TABLES = {
    "opens",
    "events",
    "webhooks",
    "tickets",
    "replies",
    "replies_sent",
    "daily_opens",
    "campaign_events",
    "deliveries",
    "tallies",
    "budgets",
    "holds",
}
_LOCK = 720431  # PostgreSQL advisory lock key: one upgrader at a time, across instances


class SchemaError(RuntimeError):
    """The database's schema cannot be used or upgraded as it is; the message says what to do."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped migrations, on an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The revision this release's code expects."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The database's revision (None for an empty database or one made before migrations)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str] | None:
    """Upgrade to `target` under a lock; return (from, to) if this call changed the schema, None if it was there."""
    wanted = ScriptDirectory.from_config(alembic_config()).get_revision(target).revision
    if current(engine) == wanted:
        return None  # the common case, without waiting on any lock
    # SQLite: the store's engine begins with BEGIN IMMEDIATE, so the whole upgrade
    # holds the write lock; PostgreSQL: an advisory lock held to the commit.
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        before = _stamp_if_made_before_migrations(conn)
        if before == wanted:
            return None  # another instance upgraded it while this one waited
        try:
            command.upgrade(alembic_config(conn), wanted)
        except CommandError as error:
            raise SchemaError(_unknown_revision(before, error)) from None
    log.info("upgraded the store's schema from %s to %s", before or "empty", wanted)
    return before, wanted


def check_current(engine: Engine) -> None:
    """Raise SchemaError unless the database is at this release's revision."""
    found, wanted = current(engine), head()
    if found != wanted:
        raise SchemaError(
            f"the database's schema is at revision {found or 'none'}, and this release needs {wanted}: "
            "back it up, then run `flask --app app db upgrade` (see README, Upgrading), "
            "or set DATABASE_AUTO_UPGRADE=true to upgrade at start-up."
        )


def _stamp_if_made_before_migrations(conn: Connection) -> str | None:
    """Stamp a database made by create_all as the first revision; return the database's revision."""
    context = MigrationContext.configure(conn)
    found = context.get_current_revision()
    if found is not None:
        return found
    tables = set(inspect(conn).get_table_names())
    if not tables & FIRST_TABLES:
        return None  # empty: the migrations create everything
    missing = FIRST_TABLES - tables
    if missing:
        raise SchemaError(
            f"the database holds some of this service's tables but not {', '.join(sorted(missing))}: "
            "it was not made by this service, or was damaged; restore it from a backup or point DATABASE_URL elsewhere."
        )
    context.stamp(ScriptDirectory.from_config(alembic_config(conn)), FIRST)
    log.info("the store was made before schema migrations: recorded it as revision %s, no table touched", FIRST)
    return FIRST


def _unknown_revision(found: str | None, error: CommandError) -> str:
    """Explain a revision this release does not know: the database was upgraded by a newer one."""
    return (
        f"the database's schema is at revision {found}, which this release does not know ({error}): "
        "it was upgraded by a newer release. Run that release, or restore the backup taken before upgrading."
    )
