"""Shared fixtures: the Zendesk stand-in, stores on SQLite and PostgreSQL, apps."""

from __future__ import annotations

import os
import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from config import load_settings
from read_receipts.operations.startup import prepare_store
from read_receipts.store import Stores
from read_receipts.store.upgrade import upgrade
from tests.zendesk_standin import ZendeskStandIn

BACKENDS = ["sqlite", "postgresql"]
THUNDERBIRD_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"


class MailClient(FlaskClient):
    """A test client that loads pages as a mail client does, not with Werkzeug's own User-Agent (a library's)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_USER_AGENT"] = THUNDERBIRD_AGENT


@pytest.fixture(autouse=True)
def _restore_environ():
    """Leave os.environ as each test found it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def zendesk():
    """A running Zendesk stand-in with one ticket (42, requester 7)."""
    standin = ZendeskStandIn().start()
    standin.add_ticket(42, requester_id=7, replies=[*range(1, 21), 9001])
    yield standin
    standin.stop()


_session_databases: list[str] = []


def postgres_url() -> str:
    """A PostgreSQL database of this test run's own, made on the server TEST_DATABASE_URL names; or skip."""
    given = os.environ.get("TEST_DATABASE_URL", "")
    if not given:
        pytest.skip("TEST_DATABASE_URL is not set")
    if not _session_databases:
        _session_databases.append(_own_database(load_settings({"DATABASE_URL": given}).database_url))
    return _session_databases[0]


def _own_database(given: str) -> str:
    """Create a database for this run, so runs side by side on one server never meet; the given one if we may not."""
    name = f"read_receipts_test_{os.getpid()}"
    engine = create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # no CREATEDB right: share the given database
        return given
    finally:
        engine.dispose()
    return make_url(given).set(database=name).render_as_string(hide_password=False)


def pytest_sessionfinish(session):
    """Drop this run's own database."""
    for url in _session_databases:
        parsed = make_url(url)
        engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        engine.dispose()


def empty_database(backend: str, tmp_path) -> str:
    """Return the URL of a database with no tables at all, of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/receipts.db"
    url = postgres_url()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def fresh_database(backend: str, tmp_path) -> str:
    """Return the URL of an empty store at this release's schema, of the given backend."""
    url = empty_database(backend, tmp_path)
    store = Stores(url)
    upgrade(store.engine)
    store.close()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """An empty store, on SQLite and on PostgreSQL."""
    return fresh_database(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """An empty SQLite store."""
    return fresh_database("sqlite", tmp_path)


@pytest.fixture
def make_app(zendesk, sqlite_url, tmp_path):
    """Build apps against the stand-in (keywords override settings); close them after."""
    apps = []

    def build(database_url: str = sqlite_url, **env):
        # Each test its own spool, and each store: a spool belongs to one store (start-up refuses another's).
        spool = tmp_path / ("spool" if database_url == sqlite_url else f"spool-{len(apps)}")
        values = {"DATABASE_URL": database_url, "SPOOL_DIR": str(spool), **zendesk.env(), **env}
        settings = load_settings({k: v for k, v in values.items() if v is not None})
        prepare_store(settings)  # as the gunicorn master does before any worker starts
        apps.append(create_app(settings))
        apps[-1].test_client_class = MailClient
        return apps[-1]

    yield build
    for app in apps:
        app.extensions["courier"].stop()
        app.extensions["store"].close()


@pytest.fixture
def app(make_app):
    """An app on SQLite talking to the stand-in."""
    return make_app()


def unspool(app) -> None:
    """Move what the app's pixel spooled into its store, as its courier's next round does first."""
    app.extensions["courier"].spool_drain.run(time.time())


@pytest.fixture
def service(make_app):
    """Build an app on SQLite with a settable courier clock."""

    def build(**env):
        app = make_app(**env)
        app.extensions["courier"].clock = Clock(time.time())
        return app.test_client(), app.extensions["courier"], app.extensions["store"]

    return build


def drain(courier, rounds: int = 200) -> None:
    """Run the courier until it has nothing left to do now."""
    for _ in range(rounds):
        if not courier.run_once():
            return


class Clock:
    """A settable clock for the courier."""

    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
