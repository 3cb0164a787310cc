"""The durable store: every table, and the reads and writes of each job."""

from read_receipts.store.database import Store, Verdict

__all__ = ["Store", "Verdict"]
