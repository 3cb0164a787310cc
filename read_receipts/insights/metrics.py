"""Prometheus metrics, read from the store at scrape time (right for any number of workers and instances), and the instance's spool."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from read_receipts.store import Stores

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
log = logging.getLogger(__name__)


class StoreCollector:
    """Turns the store's tallies and queues into metric families."""

    def __init__(self, store: Stores):
        self.store = store

    def collect(self) -> Iterator[Metric]:
        """Yield every metric, from one read of the store (none while it is away: the spool's still are)."""
        try:
            figures = self.store.tallies.figures(time.time())
        except Exception as error:
            log.warning("metrics: the store is unreachable (%s)", str(error).splitlines()[0][:200])
            return
        tallies = figures["tallies"]
        yield _counter(
            "read_receipts_opens",
            "Pixel loads triaged: verified ones by kind of reader, the rest as rejected, unverified, deleted or opted_out.",
            "kind",
            tallies,
            "opens:",
        )
        yield _counter("read_receipts_notes", "Note deliveries settled, by outcome.", "outcome", tallies, "notes:")
        yield _counter(
            "read_receipts_ticket_updates",
            "Ticket updates without a note (the unread tag, the read field) settled, by outcome.",
            "outcome",
            tallies,
            "ticket_updates:",
        )
        yield _counter(
            "read_receipts_zendesk_answers", "Zendesk API answers, by HTTP status.", "status", tallies, "zendesk:"
        )
        depth = GaugeMetricFamily("read_receipts_queue_depth", "Work waiting, by queue.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "read_receipts_oldest_pending_seconds", "Age of the oldest waiting item, by queue.", labels=["queue"]
        )
        for queue, (count, age) in sorted(figures["queues"].items()):
            depth.add_metric([queue], count)
            oldest.add_metric([queue], age)
        yield depth
        yield oldest
        yield _counter(
            "read_receipts_spool",
            "Records the spool could not take (lost: disk full or unwritable) or could not read (unreadable), all instances.",
            "outcome",
            tallies,
            "spool:",
        )
        dead = GaugeMetricFamily(
            "read_receipts_dead_letters", "Work set aside after a failure, by table.", labels=["table"]
        )
        for table, count in sorted(self.store.dead_letters.counts().items()):
            dead.add_metric([table], count)
        yield dead


class SpoolCollector:
    """This instance's spool: what waits on its disk to be stored."""

    def __init__(self, courier):
        self.courier = courier

    def collect(self) -> Iterator[Metric]:
        """Yield the spool's backlog, read from its directory now."""
        drain = self.courier.spool_drain
        if drain is None:
            return
        backlog = drain.backlog(time.time())
        yield GaugeMetricFamily(
            "read_receipts_spool_bytes",
            "Bytes spooled on this instance's disk, not yet stored.",
            value=backlog.bytes,
        )
        yield GaugeMetricFamily(
            "read_receipts_spool_oldest_seconds",
            "Age of the oldest record spooled on this instance, not yet stored.",
            value=backlog.oldest_seconds,
        )
        yield GaugeMetricFamily(
            "read_receipts_spool_max_bytes",
            "The most this instance's spool may hold (SPOOL_MAX_MB).",
            backlog.max_bytes,
        )


def _counter(name: str, help_text: str, label: str, tallies: dict[str, int], prefix: str) -> CounterMetricFamily:
    """One counter family from the tallies whose keys start with `prefix`."""
    family = CounterMetricFamily(name, help_text, labels=[label])
    for key, count in sorted(tallies.items()):
        if key.startswith(prefix):
            family.add_metric([key.removeprefix(prefix)], count)
    return family


def exposition(store: Stores, courier) -> bytes:
    """Render the metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    registry.register(SpoolCollector(courier))
    return generate_latest(registry)
