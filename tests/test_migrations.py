"""Schema migrations: upgrades keep every row, agree with the models, and run once however many instances start."""

from __future__ import annotations

import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Boolean, Float, Integer, MetaData, String, Text, func, insert, inspect, select, text

from app import create_app
from config import load_settings
from read_receipts.operations.startup import prepare_store
from read_receipts.store import Stores
from read_receipts.store import agent_addresses as addresses
from read_receipts.store.schema import metadata, ticket_updates
from read_receipts.store.upgrade import FIRST, FIRST_TABLES, alembic_config, current, head, upgrade
from tests.conftest import BACKENDS, drain, empty_database
from tests.test_server import THUNDERBIRD, Service, services  # noqa: F401 (the fixture)

ROWS_PER_TABLE = 3


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path) -> str:
    """A database without a single table, on SQLite and on PostgreSQL."""
    return empty_database(request.param, tmp_path)


def sample_value(column, row: int):
    """A value of the column's type, different for each row (so composite keys stay unique)."""
    kind = column.type
    if isinstance(kind, Boolean):
        return row % 2 == 0
    if isinstance(kind, Integer | BigInteger):
        return 1000 + row
    if isinstance(kind, Float):
        return 1_700_000_000.5 + row
    if isinstance(kind, String | Text):
        return f"{column.name[:4]}{row}"[: kind.length or 40]
    raise AssertionError(f"no sample for {column.table.name}.{column.name} ({kind!r})")


def fill_every_table(engine) -> dict[str, list[tuple]]:
    """Put rows into every table the database has (but Alembic's own); return them by table."""
    return fill_every_table_but(engine, set())


def fill_every_table_but(engine, skipped: set[str], first: int = 0) -> dict[str, list[tuple]]:
    """Put rows into every table the database has but Alembic's own and `skipped`; return them by table.

    `first` numbers the samples past rows an upgrade made from older ones.
    """
    found = MetaData()
    found.reflect(engine)
    stored = {}
    with engine.begin() as conn:
        for table in found.sorted_tables:
            if table.name == "alembic_version" or table.name in skipped:
                continue
            numbers = range(first, first + ROWS_PER_TABLE)
            rows = [{column.name: sample_value(column, n) for column in table.columns} for n in numbers]
            conn.execute(insert(table), rows)
            stored[table.name] = sorted(tuple(row.values()) for row in rows)
    return stored


def rows_now(engine, tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Read back, from each table, the columns it had when it was filled."""
    found = MetaData()
    found.reflect(engine)
    kept = {}
    with engine.connect() as conn:
        for name, rows in tables.items():
            width = len(rows[0])
            columns = list(found.tables[name].columns)[:width]
            kept[name] = sorted(tuple(row) for row in conn.execute(select(*columns)))
    return kept


def test_upgrading_from_the_first_revision_keeps_every_row(empty_url):
    store = Stores(empty_url)
    assert upgrade(store.engine, FIRST) == (None, FIRST)
    before = fill_every_table(store.engine)
    assert set(before) == FIRST_TABLES  # every table of the first revision holds rows
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    later = fill_every_table_but(store.engine, FIRST_TABLES, first=100)
    assert set(before) | set(later) == set(metadata.tables)  # the tables added since hold rows too
    made = {"reply_statuses"}  # the upgrade gave the replies it found a status
    assert {k: v for k, v in rows_now(store.engine, later).items() if k not in made} == {
        k: v for k, v in later.items() if k not in made
    }
    assert set(later["reply_statuses"]) <= set(
        rows_now(store.engine, {"reply_statuses": later["reply_statuses"]})["reply_statuses"]
    )
    store.close()


def test_upgrading_from_0003_keeps_every_row_and_gives_the_store_one_id(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0003")
    before = fill_every_table(store.engine)
    upgrade(store.engine)
    assert rows_now(store.engine, before) == before
    made, again = store.spool.store_id(), Stores(empty_url)
    assert len(made) == 32 and store.spool.store_id() == made == again.spool.store_id()  # made once, then kept
    again.close()
    store.close()


def test_upgrading_from_the_previous_head_keeps_every_row_and_adds_the_ticket_updates(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0007_api")
    before = fill_every_table(store.engine)
    assert "ticket_updates" not in before
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    later = fill_every_table_but(store.engine, set(before), first=100)  # past the replies' statuses the upgrade made
    assert "ticket_updates" in later
    updates = {"ticket_updates": later["ticket_updates"]}
    assert rows_now(store.engine, updates) == updates
    store.close()


def test_notes_queued_by_the_previous_release_are_posted_as_never_tried(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0008_unopened")
    before = fill_every_table(store.engine)
    upgrade(store.engine)
    assert rows_now(store.engine, before) == before
    deliveries = store.deliveries.for_ticket(1000) + store.deliveries.for_ticket(1001)
    store.close()
    assert deliveries and not any(delivery.outcome_unknown for delivery in deliveries)


def test_the_models_and_the_migrations_agree(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine)
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    assert differences == []


def test_a_database_made_before_migrations_is_stamped_not_recreated(empty_url, caplog, tmp_path):
    store = Stores(empty_url)
    upgrade(store.engine, FIRST)
    before = fill_every_table(store.engine)
    with store.engine.begin() as conn:  # what create_all left: the tables, no alembic_version
        conn.execute(text("DROP TABLE alembic_version"))
    assert current(store.engine) is None
    prepare_store(load_settings({"DATABASE_URL": empty_url, "SPOOL_DIR": str(tmp_path / "spool")}))
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    assert "made before schema migrations" in caplog.text
    store.close()


def test_a_database_from_a_newer_release_stops_start_up_with_what_to_do(empty_url, capsys):
    store = Stores(empty_url)
    upgrade(store.engine)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(SystemExit) as stopped:
        prepare_store(load_settings({"DATABASE_URL": empty_url}))
    assert stopped.value.code == 4
    assert "upgraded by a newer release" in capsys.readouterr().err


def test_db_commands_show_and_upgrade_the_schema(empty_url):
    app = create_app(load_settings({"DATABASE_URL": empty_url}))
    runner = app.test_cli_runner()
    assert f"none (this release needs {head()}" in runner.invoke(args=["db", "current"]).output
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0 and f"from empty to {head()}" in upgraded.output
    assert runner.invoke(args=["db", "current"]).output.startswith(f"{head()} (head")
    assert "nothing to do" in runner.invoke(args=["db", "upgrade"]).output
    assert f"-> {FIRST}" in runner.invoke(args=["db", "history"]).output
    with app.extensions["store"].reading() as conn:
        assert conn.execute(select(func.count()).select_from(metadata.tables["opens"])).scalar_one() == 0
    app.extensions["store"].close()


@pytest.mark.server
def test_two_instances_starting_at_once_upgrade_the_store_once(empty_url, tmp_path, services):  # noqa: F811
    env = {"DATABASE_URL": empty_url}
    first, second = (Service(tmp_path, env).start(wait=False) for _ in range(2))
    try:
        for service in (first, second):
            service.wait_healthy()
            assert service.load("ticket_id=42&requester_id=7").status_code == 200
        logs = first.output() + second.output()
        assert logs.count("upgraded the store's schema from empty to") == 1, logs
    finally:
        first.kill()
        second.kill()


@pytest.mark.server
def test_with_automatic_upgrade_off_start_up_says_to_run_db_upgrade(sqlite_url, tmp_path):
    empty = f"sqlite:///{tmp_path}/never-upgraded.db"
    service = Service(tmp_path, {"DATABASE_URL": empty, "DATABASE_AUTO_UPGRADE": "false"}).start(wait=False)
    assert service.process.wait(30) != 0
    assert "run `flask --app app db upgrade`" in service.output()
    ready = Service(tmp_path, {"DATABASE_URL": sqlite_url, "DATABASE_AUTO_UPGRADE": "false"}).start()
    try:
        response = ready.load("ticket_id=42&requester_id=7")
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
        assert "upgraded the store's schema" not in ready.output()
    finally:
        ready.kill()


def before_reply_statuses() -> str:
    """The revision before the one that gives replies their status (the previous head)."""
    revisions = ScriptDirectory.from_config(alembic_config()).walk_revisions()
    return next(r.down_revision for r in revisions if r.revision.endswith("_replies"))


def test_replies_known_before_statuses_get_theirs_from_their_opens(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, before_reply_statuses())
    base = 1_795_000_000.0
    loads = [  # ticket, comment, kind, client, state
        (42, 1, "person", "Gmail", "noted"),
        (42, 1, "apple_preload", "", "counted"),
        (42, 1, "person", "Gmail", "counted"),
        (42, 2, "apple_preload", "", "noted"),
        (42, 3, "scanner", "Mimecast", "skipped"),  # loaded by a machine only: no reply counters
        (42, 4, "person", "Outlook", "rejected"),  # not the requester's: proves nothing
        (42, 5, "agent", "", "skipped"),  # the team's own load
    ]
    with store.engine.begin() as conn:
        conn.execute(
            insert(metadata.tables["tickets"]).values(
                ticket_id=42, requester_id=7, status="open", checked_at=base, public_comments="5 4 3 2 1"
            )
        )
        for n, (ticket, comment, kind, client, state) in enumerate(loads):
            conn.execute(
                insert(metadata.tables["opens"]).values(
                    ticket_id=ticket,
                    requester_id=7,
                    comment_id=comment,
                    opened_at=base + n,
                    kind=kind,
                    client=client or None,
                    state=state,
                    signed=False,
                )
            )
        replies = metadata.tables["replies"]
        for key, opens, noted, first_read in ((1, 3, 1, base), (2, 1, 1, None)):
            conn.execute(
                insert(replies).values(
                    ticket_id=42,
                    reply_key=key,
                    first_open_at=base,
                    last_open_at=base + 2,
                    opens=opens,
                    opens_noted=noted,
                    next_note_at=base,
                    summary_pending=False,
                    read_noted=first_read is not None,
                    sent_at=None,
                    first_read_at=first_read,
                )
            )
        conn.execute(insert(metadata.tables["replies_sent"]).values(ticket_id=42, reply_key=9, sent_at=base - 60))
    found = MetaData()
    found.reflect(store.engine)
    shape = {name: [tuple(found.tables[name].columns)] for name in ("opens", "replies", "replies_sent", "tickets")}
    before = rows_now(store.engine, shape)  # every column of the previous head
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, shape) == before
    statuses = {s.reply_key: s for s in store.replies.statuses(42)}
    assert {key: s.status for key, s in statuses.items()} == {1: "read", 2: "preloaded", 3: "machines", 9: "not_opened"}
    assert (statuses[1].reads, statuses[1].client, statuses[1].first_read_at) == (2, "Gmail", base)
    assert statuses[9].sent_at == base - 60 and statuses[2].reads == 0
    counters = store.replies.get(42, 1)
    by_kind = (counters.person_opens, counters.preload_opens, counters.person_noted, counters.preload_noted)
    assert by_kind == (2, 1, 1, 0)  # the first note told of the first read
    store.close()


def test_upgrading_from_0003_keeps_every_row_and_adds_the_opt_out_list(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0003")
    before = fill_every_table(store.engine)
    assert "opt_outs" not in before
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(metadata.tables["opt_outs"])).scalar_one() == 0
    added = fill_every_table_but(store.engine, set(before), first=100)  # past the replies' statuses the upgrade made
    opt_outs = {"opt_outs": added["opt_outs"]}
    assert rows_now(store.engine, opt_outs) == opt_outs
    store.close()


def test_a_dry_run_stored_before_0010_never_reaches_zendesk_after_the_upgrade(empty_url, make_app, zendesk, tmp_path):
    """Ticket 1030's three loads came in a dry run (a note logged, a summary pending); ticket 42's were posted."""
    zendesk.add_ticket(1030, requester_id=530, replies=[28401030])
    url = f"sqlite:///{tmp_path}/before-0010.db" if empty_url.startswith("sqlite") else empty_url  # not make_app's own
    store = Stores(url)
    upgrade(store.engine, "0008_unopened")
    at = time.time() - 7200
    table = metadata.tables
    with store.engine.begin() as conn:
        for ticket, reply, state in [
            (1030, 28401030, "noted"),
            (1030, 28401030, "counted"),
            (1030, 28401030, "counted"),
        ]:
            conn.execute(insert(table["opens"]).values(ticket_id=ticket, requester_id=7, comment_id=reply, opened_at=at, state=state, signed=False, kind="person"))  # fmt: skip
        for ticket, reply, state in [(42, 1, "noted"), (42, 1, "counted")]:
            conn.execute(insert(table["opens"]).values(ticket_id=ticket, requester_id=7, comment_id=reply, opened_at=at, state=state, signed=False, kind="person"))  # fmt: skip
        for ticket, reply, first in [(1030, 28401030, "logged"), (42, 1, "done")]:
            conn.execute(insert(table["replies"]).values(ticket_id=ticket, reply_key=reply, first_open_at=at, last_open_at=at + 60, opens=3 if ticket == 1030 else 2, opens_noted=1, next_note_at=0, summary_pending=True))  # fmt: skip
            conn.execute(insert(table["deliveries"]).values(ticket_id=ticket, reply_key=reply, kind="first", created_at=at, due_at=at, state=first))  # fmt: skip
            conn.execute(insert(table["deliveries"]).values(ticket_id=ticket, reply_key=reply, kind="summary", created_at=at, due_at=0, state="pending"))  # fmt: skip
        conn.execute(insert(table["tickets"]).values(ticket_id=42, requester_id=7, status="open", checked_at=at))
    store.close()
    app = make_app(url)  # upgraded at start-up, as the gunicorn master does
    drain(app.extensions["courier"])
    assert zendesk.notes_on(1030) == []
    [summary] = zendesk.notes_on(42)
    assert "was read once more by a person since the last note" in summary.body  # what the counted load was
    fates = app.test_cli_runner().invoke(args=["explain", "1030"]).output
    assert fates.count("no note: a dry run's load") == 3


def test_upgrading_from_0003_keeps_every_row_and_adds_learned_agent_addresses(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0003")
    before = fill_every_table(store.engine)
    assert "agent_addresses" not in before
    upgrade(store.engine)
    assert rows_now(store.engine, before) == before
    assert "ix_opens_ticket_id" in {index["name"] for index in inspect(store.engine).get_indexes("opens")}
    assert addresses.learn(store, "198.51.100.7", 1234, 1_800_000_000.0, 30, "truncated") == "learned"
    assert addresses.applied(store, 1_800_000_000.0, 30) == {"198.51.100.7"}
    store.close()


def test_upgrading_from_the_reply_statuses_keeps_every_row_and_indexes_the_replies_page(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0011_replies")
    before = fill_every_table(store.engine)
    assert "reply_statuses" in before
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    indexes = {index["name"] for index in inspect(store.engine).get_indexes("reply_statuses")}
    assert {
        "ix_reply_statuses_status_seen_at",
        "ix_reply_statuses_agent_seen_at",
        "ix_reply_statuses_read_after",
    } <= indexes
    assert [s.status for s in store.replies.statuses(1000)] == ["stat0"]  # read through the new indexes alike
    store.close()


def test_upgrading_from_the_board_keeps_every_row_and_adds_the_unread_tag_times(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0012_board")
    before = fill_every_table(store.engine)
    assert "ticket_updates" in before
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    with store.engine.connect() as conn:  # unknown for a tag sent before: null
        times = conn.execute(select(ticket_updates.c.tagged_at, ticket_updates.c.untagged_at)).all()
    assert times and all(tuple(row) == (None, None) for row in times)
    store.close()


def test_upgrading_from_the_tag_times_keeps_every_row_and_times_the_replies_read(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0013_tag_times")
    before = fill_every_table(store.engine)
    statuses = metadata.tables["reply_statuses"]
    with store.engine.begin() as conn:  # a read reply, 90 s after it was sent
        conn.execute(statuses.update().where(statuses.c.id == 1000).values(first_read_at=statuses.c.seen_at + 90))
    before["reply_statuses"] = rows_now(store.engine, {"reply_statuses": before["reply_statuses"]})["reply_statuses"]
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    with store.engine.connect() as conn:
        timed = dict(conn.execute(select(statuses.c.id, statuses.c.read_after)).all())
    assert timed == {1000: 90.0, 1001: 0.0, 1002: 0.0}  # first_read_at - seen_at; the samples are read as sent
    indexes = {index["name"] for index in inspect(store.engine).get_indexes("reply_statuses")}
    assert {"ix_reply_statuses_agent_seen_at", "ix_reply_statuses_read_after"} <= indexes
    assert "ix_reply_statuses_figures" not in indexes
    store.close()


def test_upgrading_from_the_agent_figures_keeps_every_row_and_adds_the_replies_groups(empty_url):
    store = Stores(empty_url)
    upgrade(store.engine, "0014_agent_figures")
    before = fill_every_table(store.engine)
    assert "reply_statuses" in before
    upgrade(store.engine)
    assert current(store.engine) == head()
    assert rows_now(store.engine, before) == before
    statuses = metadata.tables["reply_statuses"]
    with store.engine.connect() as conn:  # unknown for a reply sent before: no group
        groups = conn.execute(select(statuses.c.group_id, statuses.c.group_name)).all()
    assert len(groups) == ROWS_PER_TABLE and all(tuple(row) == (None, None) for row in groups)
    store.close()
