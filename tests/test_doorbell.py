"""The courier's doorbell: a ring from a request worker wakes the courier process; a ring never waits or fails."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from read_receipts.delivery.doorbell import BELL_NAME, Doorbell, Ringer

RING_FROM_ANOTHER_PROCESS = """
import sys
from read_receipts.delivery.doorbell import Ringer
Ringer(sys.argv[1]).set()
"""


def ring_in_a_new_process(directory) -> None:
    """Ring as a request worker would: from another process."""
    subprocess.run([sys.executable, "-c", RING_FROM_ANOTHER_PROCESS, str(directory)], check=True, timeout=30)


def test_a_ring_from_another_process_wakes_the_courier(tmp_path):
    bell = Doorbell(tmp_path)
    assert bell.wait(0.05) is False  # nobody rang
    ring_in_a_new_process(tmp_path)
    assert bell.wait(5) is True and bell.is_set()
    bell.clear()
    assert bell.wait(0.05) is False  # clear took the ring: the next wait waits again
    bell.close()


def test_a_waiting_courier_is_woken_by_a_ring_not_by_its_timeout(tmp_path):
    bell, ringer = Doorbell(tmp_path), Ringer(tmp_path)
    woke = threading.Event()
    waiter = threading.Thread(target=lambda: bell.wait(30) and woke.set())
    waiter.start()
    ringer.set()
    waiter.join(10)
    assert woke.is_set() and not waiter.is_alive()
    bell.close()


def test_rings_while_no_courier_listens_are_dropped_quietly_then_reach_the_next_one(tmp_path):
    ringer = Ringer(tmp_path)
    ringer.set()  # no doorbell made yet: nothing to ring, nothing raised
    bell = Doorbell(tmp_path)
    bell.close()
    ringer.set()  # a doorbell nobody listens on (the courier died): still nothing raised
    bell = Doorbell(tmp_path)  # the courier is back (gunicorn restarted it)
    ringer.set()  # the very next ring reaches it
    assert bell.wait(5) is True
    bell.close()


def test_a_ringer_whose_courier_went_away_finds_the_new_one(tmp_path):
    ringer = Ringer(tmp_path)
    first = Doorbell(tmp_path)
    ringer.set()
    assert first.wait(5)
    first.close()
    ringer.set()  # the reader is gone: the write fails (EPIPE) and is forgotten
    second = Doorbell(tmp_path)
    ringer.set()
    assert second.wait(5) is True
    second.close()


def test_a_full_doorbell_never_makes_a_ring_wait(tmp_path):
    bell = Doorbell(tmp_path)
    ringer = Ringer(tmp_path)
    done = threading.Event()

    def ring_a_lot() -> None:
        for _ in range(200_000):  # far past a FIFO's 64 KiB: a blocking write would hang here
            ringer.set()
        done.set()

    threading.Thread(target=ring_a_lot, daemon=True).start()
    assert done.wait(60), "ringing blocked on a full FIFO"
    assert bell.wait(0) is True
    bell.clear()
    assert bell.wait(0) is False
    bell.close()


def test_a_file_in_the_doorbell_s_place_is_replaced(tmp_path):
    (tmp_path / BELL_NAME).write_text("left over")
    bell = Doorbell(tmp_path)
    Ringer(tmp_path).set()
    assert bell.wait(5)
    bell.close()


def test_the_courier_can_ring_its_own_doorbell_to_stop_at_once(tmp_path):
    bell = Doorbell(tmp_path)
    bell.set()
    assert bell.wait(30) is True  # True: woken by the ring (a timeout returns False)
    bell.close()


def test_where_no_fifo_can_be_made_the_courier_looks_every_second(tmp_path, caplog):
    from read_receipts.delivery.courier import POLL_SECONDS
    from read_receipts.operations.courier_process import lanes
    from read_receipts.settings import load_settings

    spool = tmp_path / "spool"
    (spool / BELL_NAME).mkdir(parents=True)  # something in the doorbell's place that cannot be replaced
    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/store.db", "SPOOL_DIR": str(spool)})
    first, *others = lanes(settings)
    assert first.poll_max == POLL_SECONDS and others
    assert "looks for new opens every second" in caplog.text
    first.stores.close()


def test_a_ringer_never_writes_into_a_regular_file_in_the_doorbell_s_place(tmp_path, caplog):
    (tmp_path / BELL_NAME).write_text("keep")
    ringer = Ringer(tmp_path)
    for _ in range(3):
        ringer.set()
    assert (tmp_path / BELL_NAME).read_text() == "keep"
    assert caplog.text.count("is not a FIFO") == 1


def test_a_doorbell_removed_with_its_directory_is_made_again_and_rung(tmp_path, caplog):
    import shutil

    directory = tmp_path / "spool"
    directory.mkdir()
    bell = Doorbell(directory)
    shutil.rmtree(directory)
    assert bell.wait(0) is False  # deaf: nothing to listen on yet
    assert "cannot be made again" in caplog.text
    directory.mkdir()  # the next spooled open makes the directory again
    assert bell.wait(0) is False and "made it again" in caplog.text
    Ringer(directory).set()
    assert bell.wait(5) is True
    bell.close()


def test_a_doorbell_that_cannot_be_rung_waits_at_most_a_poll(tmp_path):
    from read_receipts.delivery.doorbell import DEAF_POLL_SECONDS

    bell = Doorbell(tmp_path)
    os.unlink(tmp_path / BELL_NAME)
    (tmp_path / BELL_NAME).write_text("planted")  # not replaced while the courier runs
    waiter = threading.Thread(target=bell.wait, args=(600,))
    waiter.start()
    waiter.join(DEAF_POLL_SECONDS * 30)  # a generous bound: the wait itself is capped at DEAF_POLL_SECONDS
    assert not waiter.is_alive()
    assert (tmp_path / BELL_NAME).read_text() == "planted"
    bell.close()
