"""The spool's segments: whole records only, partial lines left for later, takeover of dead writers, rotation."""

from __future__ import annotations

import fcntl
import os
import time

import pytest
from sqlalchemy import select

from read_receipts.intake import spool as spooling
from read_receipts.intake.spool import Spool
from read_receipts.store import Stores
from read_receipts.store.schema import opens, spool_segments


@pytest.fixture
def spool(tmp_path) -> Spool:
    """A spool in a fresh directory."""
    return Spool(spooling.prepare(tmp_path / "spool"))


def open_record(ticket: int) -> dict:
    """An open as the pixel spools it."""
    return {
        "ticket_id": ticket,
        "requester_id": 7,
        "comment_id": 1,
        "sent": None,
        "opened_at": time.time(),
        "ip": "127.0.0.1",
        "user_agent": "Thunderbird/128",
    }


def test_records_are_read_back_whole_and_a_partial_last_line_waits(spool):
    spool.append("o", open_record(1))
    spool.append("o", open_record(2))
    live = spool.open_segment(spool.live)
    with open(spool.directory / spool.live, "ab") as writer:  # a record its writer has half written
        writer.write(b'{"k":"o","ticket_id":3')
    batch = live.read(0, max_lines=100)
    assert [r["ticket_id"] for r in batch.records] == [1, 2] and batch.unreadable == 0
    assert batch.end < live.size()  # the partial line is not consumed
    live.close()


def test_an_unparsable_line_is_counted_and_skipped_not_blocking(spool):
    spool.append("o", open_record(1))
    with open(spool.directory / spool.live, "ab") as writer:
        writer.write(b"not json\n")
    spool.append("o", open_record(2))
    batch = spool.open_segment(spool.live).read(0, max_lines=100)
    assert [r["ticket_id"] for r in batch.records] == [1, 2] and batch.unreadable == 1


def test_a_live_writer_s_segment_cannot_be_taken_over_a_dead_one_can(spool, tmp_path):
    other = Spool(spool.directory)  # another worker of the instance
    other.append("o", open_record(1))
    assert spool.open_segment(other.live) is None  # its writer holds it
    name = other.live
    other.close()  # the writer is gone (as after a kill -9: its flock went with it)
    taken = spool.open_segment(name)
    assert taken is not None and taken.sealed
    assert Spool(spool.directory).open_segment(name) is None  # one drainer at a time
    taken.close()


def test_a_sealed_segment_with_a_torn_last_record_is_finished(spool):
    spool.append("o", open_record(1))
    name = spool.live
    with open(spool.directory / name, "ab") as writer:
        writer.write(b'{"k":"o","tick')  # the disk filled mid-record
    spool.close()
    segment = spool.open_segment(name)
    batch = segment.read(0, max_lines=100)
    assert len(batch.records) == 1 and batch.unreadable == 1 and batch.end == segment.size()
    segment.close()


def test_the_writer_rolls_to_a_new_segment_by_size_and_age(spool, monkeypatch):
    monkeypatch.setattr(spooling, "SEGMENT_BYTES", 100)
    spool.append("o", open_record(1))
    first = spool.live
    spool.append("o", open_record(2))
    spool.append("o", open_record(3))
    assert spool.live != first and len(spool.segment_names()) == 3  # one record each past 100 bytes
    monkeypatch.setattr(spooling, "SEGMENT_BYTES", 10**6)
    spool.append("o", open_record(5))
    spool._rolls_at = time.monotonic() - 1  # the live segment is SEGMENT_SECONDS old
    spool.append("o", open_record(4))
    assert len(spool.segment_names()) == 4


def test_a_segment_is_stored_once_even_by_two_drainers(spool, sqlite_url):
    from read_receipts.delivery.spool_drain import SpoolDrain

    store = Stores(sqlite_url)
    for ticket in range(10):
        spool.append("o", open_record(ticket))
    spool.close()
    first, second = SpoolDrain(store.spool, Spool(spool.directory)), SpoolDrain(store.spool, Spool(spool.directory))
    second.positions = {}
    assert first.run(time.time()) is True
    assert second.run(time.time()) is False
    assert [store.opens.by_id(i).ticket_id for i in range(1, 11)] == list(range(10))
    assert store.opens.by_id(11) is None and spool.segment_names() == []  # stored, then deleted
    with store.reading() as conn:  # and its position forgotten: nothing piles up
        assert conn.execute(select(spool_segments)).all() == []
    store.close()


def test_the_courier_process_drains_live_segments_a_line_at_a_time_and_leaves_them(spool, sqlite_url):
    from read_receipts.delivery.spool_drain import SpoolDrain

    store = Stores(sqlite_url)
    courier = SpoolDrain(store.spool, Spool(spool.directory, drain_live=True))  # another process than the writer's
    spool.append("o", open_record(1))
    spool.append("o", open_record(2))
    with open(spool.directory / spool.live, "ab") as writer:  # the writer is halfway through a third
        writer.write(b'{"k":"o","ticket_id":3')
    assert courier.run(time.time()) is True
    assert [store.opens.by_id(i).ticket_id for i in (1, 2)] == [1, 2] and store.opens.by_id(3) is None
    assert spool.segment_names() == [spool.live]  # still written to: it stays
    with open(spool.directory / spool.live, "ab") as writer:
        writer.write(b',"requester_id":7,"comment_id":1,"opened_at":1.0,"ip":null,"user_agent":null}\n')
    spool.append("o", open_record(4))
    assert courier.run(time.time()) is True
    assert [store.opens.by_id(i).ticket_id for i in (3, 4)] == [3, 4] and store.opens.by_id(5) is None
    spool.close()  # the worker rolled over (or died): the segment is sealed
    assert courier.run(time.time()) is False
    assert spool.segment_names() == [] and store.opens.by_id(5) is None  # deleted, nothing stored twice
    store.close()


def test_a_stale_position_stores_nothing(spool, sqlite_url):
    from read_receipts.store.spooling import StaleSpoolPosition

    store = Stores(sqlite_url)
    store.spool.store_spooled("seg", None, 10, [{"k": "o", **open_record(1)}], time.time())
    with pytest.raises(StaleSpoolPosition):  # a courier that read the position before the first commit
        store.spool.store_spooled("seg", None, 10, [{"k": "o", **open_record(1)}], time.time())
    with pytest.raises(StaleSpoolPosition):
        store.spool.store_spooled("seg", 0, 10, [{"k": "o", **open_record(1)}], time.time())
    assert store.opens.by_id(2) is None
    store.close()


def test_an_unusable_spool_directory_is_refused_with_a_fix(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(spooling.SpoolError, match="Point SPOOL_DIR at a writable directory"):
        spooling.prepare(blocker / "spool")


def test_appends_that_fail_are_counted_not_raised(spool, caplog):
    spool.append("o", open_record(1))
    spool.close()
    os.rename(spool.directory, spool.directory.with_name("gone"))
    spool.directory.write_text("not a directory")
    for ticket in range(3):
        spool.append("o", open_record(ticket))
    assert spool.lost == 3 and not spool.writable()
    assert caplog.text.count("could not write to the spool") == 1  # once a minute, not once a record
    assert fcntl  # flock is what marks a live writer


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_record_the_store_refuses_is_counted_and_the_rest_stored(spool, backend, tmp_path):
    from read_receipts.delivery.spool_drain import SpoolDrain
    from tests.conftest import fresh_database

    store = Stores(fresh_database(backend, tmp_path))
    spool.append("o", open_record(1))
    spool.append("o", {**open_record(2), "opened_at": None})  # NOT NULL: no store takes it
    spool.append("o", {**open_record(3), "ip": "x" * 300})  # longer than the column
    spool.append("o", open_record(4))
    spool.close()
    drain = SpoolDrain(store.spool, Spool(spool.directory))
    assert drain.run(time.time()) is True
    with store.reading() as conn:
        stored = set(conn.execute(select(opens.c.ticket_id)).scalars())
    assert stored >= {1, 4} and 2 not in stored  # SQLite keeps the long address; PostgreSQL refuses it too
    assert spool.segment_names() == []  # the segment is done with, not retried for ever
    assert drain.run(time.time()) is False
    assert store.tallies.figures(time.time())["tallies"].get("spool:unreadable", 0) >= 1
    store.close()


def test_a_fifo_or_a_directory_named_like_a_segment_is_skipped_once_logged(spool, caplog):
    os.mkfifo(spool.directory / "00000000000000000001-1-aaaaaaaa.spool")
    (spool.directory / "00000000000000000002-1-bbbbbbbb.spool").mkdir()
    for _ in range(2):
        assert [spool.open_segment(name) for name in spool.segment_names()] == [None, None]  # no wait on the FIFO
    assert caplog.text.count("is not a regular file") == 2  # once each
    assert spool.backlog({}, time.time()).bytes == 0


def test_one_courier_at_a_time_holds_the_drain_lock(spool):
    other = Spool(spool.directory)
    with spool.draining() as held:
        assert held
        with other.draining() as also:
            assert not also
    with other.draining() as held:
        assert held


def test_a_spool_claimed_by_one_store_is_refused_to_another(spool):
    spooling.claim(spool.directory, "a" * 32)
    spooling.claim(spool.directory, "a" * 32)  # the same store again: fine
    with pytest.raises(spooling.SpoolError, match="belongs to another store"):
        spooling.claim(spool.directory, "b" * 32)
    assert (spool.directory / spooling.OWNER_NAME).read_text().strip() == "a" * 32


def test_nul_characters_are_dropped_before_spooling(spool):
    spool.append("o", {**open_record(1), "sent": "a\0b", "user_agent": "x\0"})
    [record] = spool.open_segment(spool.live).read(0, max_lines=10).records
    assert (record["sent"], record["user_agent"]) == ("ab", "x")


def test_past_max_bytes_records_are_counted_lost_not_written(tmp_path, caplog):
    capped = Spool(spooling.prepare(tmp_path / "spool"), max_bytes=10_000)
    assert capped.backlog({}, time.time()).full is False
    for ticket in range(100):
        capped.append("o", open_record(ticket))
    assert capped.held_bytes() <= 10_000 and capped.lost > 0
    assert capped.backlog({}, time.time()).full is True
    assert caplog.text.count("holds SPOOL_MAX_MB") == 1 and not capped.writable()


def test_a_removed_spool_directory_is_made_again_by_the_next_append(spool, caplog):
    import shutil

    spool.append("o", open_record(1))
    shutil.rmtree(spool.directory)
    spool.append("o", open_record(2))
    [name] = spool.segment_names()
    [record] = spool.open_segment(name).read(0, max_lines=10).records
    assert record["ticket_id"] == 2 and spool.lost == 0
    assert "was removed" in caplog.text


def test_a_small_spool_whose_store_takes_its_opens_loses_none(tmp_path, sqlite_url):
    from read_receipts.delivery.spool_drain import SpoolDrain

    store = Stores(sqlite_url)
    capped = Spool(spooling.prepare(tmp_path / "spool"), max_bytes=64 * 1024)  # small segments: 4 KiB each
    drain = SpoolDrain(store.spool, Spool(capped.directory))
    for ticket in range(1000):  # 200 KiB in all: three times what the spool may hold
        capped.append("o", open_record(ticket))
        if ticket % 50 == 49:
            drain.run(time.time())
    capped.close()
    drain.run(time.time())
    assert capped.lost == 0 and store.opens.by_id(1000).ticket_id == 999 and store.opens.by_id(1001) is None
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_batch_with_whole_and_fractional_times_is_stored_whole(spool, backend, tmp_path, caplog):
    from read_receipts.delivery.spool_drain import SpoolDrain
    from tests.conftest import fresh_database

    store = Stores(fresh_database(backend, tmp_path))
    spool.append("o", {**open_record(1), "opened_at": 1700000000})  # an import's whole seconds
    spool.append("o", {**open_record(2), "opened_at": 1700000000.25})
    spool.append("o", {**open_record(3), "ip": None, "user_agent": None})
    spool.close()
    assert SpoolDrain(store.spool, Spool(spool.directory)).run(time.time()) is True
    with store.reading() as conn:
        stored = dict(conn.execute(select(opens.c.ticket_id, opens.c.opened_at)).all())
    assert stored[1] == 1700000000 and stored[2] == 1700000000.25 and 3 in stored
    assert store.tallies.figures(time.time())["tallies"].get("spool:unreadable", 0) == 0  # none refused
    assert "refused" not in caplog.text  # in one statement, not one record at a time
    store.close()
