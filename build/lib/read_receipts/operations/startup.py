"""Start-up: the store brought to this release's schema, logging set up, the mode announced."""

from __future__ import annotations

import logging
import sys

from sqlalchemy.exc import SQLAlchemyError

from read_receipts.settings import Settings
from read_receipts.store import Store
from read_receipts.store.upgrade import SchemaError, check_current, upgrade

log = logging.getLogger("read_receipts")


def prepare_store(settings: Settings) -> None:
    """Upgrade the schema (or check it, with DATABASE_AUTO_UPGRADE off), or stop with a message that says what to do."""
    configure_logging(settings.log_level)
    store = Store(settings.database_url)
    try:
        if settings.auto_upgrade:
            upgrade(store.engine)
        else:
            check_current(store.engine)
    except SchemaError as error:
        _stop(f"Cannot use the store named by DATABASE_URL: {error}")
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        _stop(
            f"Cannot open the store named by DATABASE_URL ({reason}). Check that the database server is "
            "reachable and the user may create tables, or that the SQLite file's directory exists and is writable."
        )
    finally:
        store.close()


def _stop(message: str) -> None:
    """Print why the service cannot start, and stop it."""
    print(message, file=sys.stderr, flush=True)
    # 4 is gunicorn's "app failed to load": it stops instead of respawning workers.
    raise SystemExit(4)


def configure_logging(level: str) -> None:
    """Log to stdout, once per process."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-connection chatter says nothing to operators


def announce(settings: Settings) -> None:
    """Say at start-up where notes go."""
    if settings.dry_run:
        log.warning(
            "dry run: no Zendesk credentials are set, so notes are logged here, not posted (see README, Settings)"
        )
    else:
        log.info(
            "posting notes to %s; verification of requesters is %s",
            settings.zendesk_url,
            "on" if settings.verify_requester else "off",
        )
