"""Shared fixtures: the Zendesk stand-in, stores on SQLite and PostgreSQL, apps."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from config import load_settings
from read_receipts.operations.startup import prepare_store
from read_receipts.store import Store
from read_receipts.store.upgrade import upgrade
from tests.zendesk_standin import ZendeskStandIn

BACKENDS = ["sqlite", "postgresql"]


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


def postgres_url() -> str:
    """The PostgreSQL given by TEST_DATABASE_URL, or skip the test."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    return url


def empty_database(backend: str, tmp_path) -> str:
    """Return the URL of a database with no tables at all, of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/receipts.db"
    url = load_settings({"DATABASE_URL": postgres_url()}).database_url
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def fresh_database(backend: str, tmp_path) -> str:
    """Return the URL of an empty store at this release's schema, of the given backend."""
    url = empty_database(backend, tmp_path)
    store = Store(url)
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
def make_app(zendesk, sqlite_url):
    """Build apps against the stand-in (keywords override settings); close them after."""
    apps = []

    def build(database_url: str = sqlite_url, **env):
        values = {"DATABASE_URL": database_url, **zendesk.env(), **env}
        settings = load_settings({k: v for k, v in values.items() if v is not None})
        prepare_store(settings)  # as the gunicorn master does before any worker starts
        apps.append(create_app(settings))
        return apps[-1]

    yield build
    for app in apps:
        app.extensions["courier"].stop()
        app.extensions["store"].close()


@pytest.fixture
def app(make_app):
    """An app on SQLite talking to the stand-in."""
    return make_app()


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
