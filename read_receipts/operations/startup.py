"""Start-up: the store brought to this release's schema, logging set up, the mode announced."""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from read_receipts.intake import spool
from read_receipts.settings import Settings
from read_receipts.store.couriers import Couriers
from read_receipts.store.database import Database
from read_receipts.store.spooling import SpoolStore
from read_receipts.store.upgrade import SchemaError, check_current, upgrade

log = logging.getLogger("read_receipts")


def prepare_store(settings: Settings) -> None:
    """Upgrade the schema (or check it, with DATABASE_AUTO_UPGRADE off), or stop with a message that says what to do."""
    configure_logging(settings.log_level)
    try:
        spool_dir = spool.prepare(settings.spool_dir)
    except spool.SpoolError as error:
        _stop(str(error))
    store = SpoolStore(settings.database_url)
    try:
        if settings.auto_upgrade:
            upgrade(store.engine)
        else:
            check_current(store.engine)
        _check_writes(store, spool_dir, settings.database_url)
        _remember_store(spool_dir, settings.database_url)
        spool.claim(spool_dir, store.store_id())
    except spool.SpoolError as error:
        _stop(str(error))
    except SchemaError as error:
        _stop(f"Cannot use the store named by DATABASE_URL: {error}")
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        if isinstance(error, OperationalError) and _known_store(spool_dir, settings.database_url):
            # A restart during an outage of a store this instance used: the pixel needs only the spool.
            log.warning(
                "the store is unreachable (%s); starting anyway: opens wait in the spool until it answers", reason
            )
            return
        _stop(
            f"Cannot open the store named by DATABASE_URL ({reason}). Check that the database server is "
            "reachable and the user may create tables, or that the SQLite file's directory exists and is writable."
        )
    finally:
        store.close()


def _check_writes(store: Database, spool_dir: Path, database_url: str) -> None:
    """Try a write: a store that takes none (read-only file, mount or replica) would deliver nothing."""
    try:
        Couriers(store).check_writes()
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        if not _known_store(spool_dir, database_url):
            _stop(
                f"The store named by DATABASE_URL takes no writes ({reason}). Check that the SQLite file and its "
                "directory are writable by the service's user (and not on a read-only mount), or that the "
                "database is a primary, not a read-only replica."
            )
        # A restart on a store this instance used: the pixel needs only the spool; /healthz says delivery fails.
        log.warning("the store takes no writes (%s); starting anyway: opens wait in the spool", reason)


def _store_mark(database_url: str) -> str:
    """A fingerprint of the store (its URL without the password)."""
    plain = make_url(database_url).set(password=None).render_as_string()
    return hashlib.sha256(plain.encode()).hexdigest()


def _remember_store(spool_dir: Path, database_url: str) -> None:
    """Note in the spool that this store was reached, so a restart during its outage may go ahead."""
    (spool_dir / ".store").write_text(_store_mark(database_url))


def _known_store(spool_dir: Path, database_url: str) -> bool:
    """Whether this spool has already been used with this store."""
    try:
        return (spool_dir / ".store").read_text() == _store_mark(database_url)
    except OSError:
        return False


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
    """Say at start-up where notes go, and which parts of the service are on, and where."""
    if settings.dry_run:
        log.warning(
            "dry run: no Zendesk credentials are set, so each load is logged here with the note it would get, "
            "and never noted, not even once Zendesk is connected (see README, Quick start)"
        )
    else:
        log.info(
            "posting notes to %s; verification of requesters is %s",
            settings.zendesk_url,
            "on" if settings.verify_requester else "off",
        )
    on, off = parts(settings)
    log.info("on: %s", "; ".join(on))
    if off:
        log.info("off: %s", "; ".join(off))


def parts(settings: Settings) -> tuple[list[str], list[str]]:
    """What is on (and where), and what is off (and the setting that turns it on)."""
    url = settings.public_url
    on, off = [f"the pixel at {url}/pixel.gif"], []
    if settings.admin_user and settings.admin_password:
        on.append(f"the dashboard at {url}/dashboard and the API at {url}/api/")
    elif settings.api_token:
        on.append(f"the API at {url}/api/ (with API_TOKEN only)")
        off.append("the dashboard (set ADMIN_USER and ADMIN_PASSWORD)")
    else:
        off.append("the dashboard and the API (set ADMIN_USER and ADMIN_PASSWORD)")
    if settings.tracking_keys:
        encrypted = ", encrypted" if settings.tracking_encryption_keys else ""
        on.append(f"tracking links at {url}/o/ and {url}/c/ (signed{encrypted})")
    else:
        off.append("tracking links (set TRACKING_KEYS)")
    if settings.webhook_urls:
        hosts = ", ".join(urlsplit(hook).netloc.rpartition("@")[2] for hook in settings.webhook_urls)
        on.append(f"webhooks of every open and click to {hosts}")
    else:
        off.append("webhooks (set WEBHOOK_URLS and WEBHOOK_SECRET)")
    if settings.zendesk_webhook_secret:
        on.append(f"the reply webhook at {url}/zendesk/replies")
    else:
        off.append("the reply webhook (set ZENDESK_WEBHOOK_SECRET)")
    if settings.metrics_token:
        on.append(f"metrics at {url}/metrics, behind METRICS_TOKEN")
    else:
        on.append(f"metrics at {url}/metrics, open to anyone who reaches it (set METRICS_TOKEN)")
    return on, off
