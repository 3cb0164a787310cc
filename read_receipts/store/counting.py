"""Which triaged opens count as reads, and the names the others are counted under."""

from __future__ import annotations

# Loads that prove nothing about a reader: no requester to check (unverified), the
# wrong requester (rejected), a ticket Zendesk does not have (deleted), or a
# requester who opted out. They are counted under these names, never as a kind of
# reader, and never leave as webhooks.
NOT_READS = ("rejected", "unverified", "deleted", "opted_out")


def counted_as(state: str, kind: str | None) -> str:
    """The name a triaged open is counted under: its kind when verified, else why it is not."""
    return state if state in NOT_READS else kind or state
