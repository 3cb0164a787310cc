"""The tables: opens and events as they come in, what triage and delivery keep, and the rollups."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, text

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
_Id = BigInteger().with_variant(Integer, "sqlite")


def _outbox_columns() -> list[Column]:
    """What every outbox row has besides its state: tries, its lease, and the last outcome."""
    return [
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("lease_until", Float, nullable=False, server_default="0"),
        Column("lease_owner", String(36)),
        Column("last_status", Integer),
        Column("last_error", String(300)),
        Column("done_at", Float),
    ]


opens = Table(
    "opens",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("ticket_id", BigInteger, nullable=False),
    Column("requester_id", BigInteger),
    Column("comment_id", BigInteger),
    Column("opened_at", Float, nullable=False),
    Column("ip", String(45)),
    Column("user_agent", String(512)),
    Column("sent", String(40)),  # the reply's send time as the img tag carried it
    Column("client", String(40)),  # set at triage: the mail client or browser
    Column("kind", String(16)),  # set at triage: person, apple_preload, scanner, ...
    # From a signed tracking link: the signature proves the ticket, no requester check.
    Column("signed", Boolean, nullable=False, server_default=text("false")),
    # An OpenState (opens.py, the only writer): new -> noted | counted | dry_run | skipped | rejected
    # | unverified | closed | deleted | opted_out | expired | dead (triage failed on it: see error)
    Column("state", String(16), nullable=False, server_default="new"),
    Column("error", String(300)),  # why a dead open could not be triaged
    Index("ix_opens_state", "state"),
    Index("ix_opens_ticket_id", "ticket_id", "id"),  # a ticket's opens, newest first
)

events = Table(
    "events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # open | click
    Column("occurred_at", Float, nullable=False),
    Column("ip", String(45)),
    Column("user_agent", String(512)),
    Column("meta", Text, nullable=False),  # the tracking link's metadata, as JSON
    Column("target", Text),  # where a click went
    # An EventState (events.py): new -> queued (for webhooks) | dead (dispatch failed on it: see error)
    Column("state", String(8), nullable=False, server_default="new"),
    Column("error", String(300)),
    Index("ix_events_state", "state"),
    Index("ix_events_occurred_at", "occurred_at"),  # a signed open's event is found by its time
)

# The outbox of webhook calls: one row per event and receiver, delivered at least once.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),  # the receiver's key for de-duplication
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    # A WebhookState (webhook_calls.py): pending -> done | failed | dead (our own code failed: see last_error)
    Column("state", String(16), nullable=False, server_default="pending"),
    *_outbox_columns(),
    Index("ix_webhooks_due", "state", "due_at"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("requester_id", BigInteger),
    # A TicketStatus (tickets.py): checking (a worker is asking Zendesk, or will again at retry_at),
    # or the status Zendesk gave: new, open, pending, solved, closed, deleted ...
    Column("status", String(16), nullable=False),
    Column("checked_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("retry_at", Float, nullable=False, server_default="0"),
    Column("opted_out", Boolean, nullable=False, server_default=text("false")),  # carries OPT_OUT_TAG
    # The ids of the ticket's public comments, space-separated (newest kept), and when they were read.
    Column("public_comments", Text, nullable=False, server_default=""),
    Column("comments_at", Float, nullable=False, server_default="0"),
    # People in copy of the ticket's emails when it was checked (email_cc_ids, else collaborator_ids).
    Column("ccs", Integer, nullable=False, server_default="0"),
)

# The ticket's public comments as Zendesk lists them: when each was written, and by whom (side-loaded names).
comments = Table(
    "comments",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("comment_id", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", Float),
    Column("author_id", BigInteger),
    Column("author_name", String(120)),
)

replies = Table(
    "replies",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    # The reply's comment id, or 0 when the pixel did not say which reply.
    Column("reply_key", BigInteger, primary_key=True, autoincrement=False),
    Column("first_open_at", Float, nullable=False),
    Column("last_open_at", Float, nullable=False),
    Column("opens", Integer, nullable=False, server_default="0"),
    Column("opens_noted", Integer, nullable=False, server_default="0"),
    Column("next_note_at", Float, nullable=False, server_default="0"),
    Column("summary_pending", Boolean, nullable=False, server_default=text("false")),
    Column("read_noted", Boolean, nullable=False, server_default=text("false")),  # a person's open has its note
    Column("sent_at", Float),  # when the reply was sent, if the img tag said
    Column("first_read_at", Float),  # the first open by a person
    # Opens by kind, and how many of each the notes told of: a summary says what the loads were.
    Column("person_opens", Integer, nullable=False, server_default="0"),
    Column("preload_opens", Integer, nullable=False, server_default="0"),
    Column("person_noted", Integer, nullable=False, server_default="0"),
    Column("preload_noted", Integer, nullable=False, server_default="0"),
    Index("ix_replies_first_open_at", "first_open_at"),
)

# Each reply the trigger emailed (reported sent, or seen through its pixel) and what became of it.
reply_statuses = Table(
    "reply_statuses",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("ticket_id", BigInteger, nullable=False),
    Column("reply_key", BigInteger, nullable=False),  # as in replies: the comment id, or 0
    # A ReplyStatus (reply_statuses.py, the only writer), forward only: not_opened -> machines -> preloaded -> read
    Column("status", String(16), nullable=False, server_default="not_opened"),
    Column("seen_at", Float, nullable=False),  # when the service first heard of the reply
    Column("sent_at", Float),
    Column("first_read_at", Float),
    Column("reads", Integer, nullable=False, server_default="0"),
    Column("client", String(40)),  # of the first read by a person
    Column("agent_id", BigInteger),  # who replied, as the reply-sent webhook said
    Column("agent_name", String(120)),
    Column("read_after", Float),  # first_read_at - seen_at, kept with them: the agents' medians walk it in order
    Column("group_id", BigInteger),  # the ticket's group, as the reply-sent webhook said
    Column("group_name", String(120)),
    Index("ix_reply_statuses_reply", "ticket_id", "reply_key", unique=True),
    Index("ix_reply_statuses_seen_at", "seen_at"),
    # The replies page by status, newest first; the unopened count; the agents' preloaded counts.
    Index("ix_reply_statuses_status_seen_at", "status", "seen_at", "agent_id", "first_read_at"),
    # An agent's replies newest first; how many each agent sent in a period (no load rewrites it).
    Index("ix_reply_statuses_agent_seen_at", "agent_id", "seen_at"),
    # Each agent's read replies by time to read: the median is the middle of a walk in this order; how many each
    # agent had read. Only the read ones are in it: a reply nobody read costs it nothing.
    Index(
        "ix_reply_statuses_read_after",
        "agent_id",
        "read_after",
        "seen_at",
        sqlite_where=text("read_after IS NOT NULL"),
        postgresql_where=text("read_after IS NOT NULL"),
    ),
    # The same two for groups, of the replies with a group only (a team without groups pays nothing for them).
    Index(
        "ix_reply_statuses_group_seen_at",
        "group_id",
        "seen_at",
        "status",
        "read_after",
        sqlite_where=text("group_id IS NOT NULL"),
        postgresql_where=text("group_id IS NOT NULL"),
    ),
    Index(
        "ix_reply_statuses_group_read_after",
        "group_id",
        "read_after",
        "seen_at",
        sqlite_where=text("group_id IS NOT NULL AND read_after IS NOT NULL"),
        postgresql_where=text("group_id IS NOT NULL AND read_after IS NOT NULL"),
    ),
)

# Replies Zendesk says it sent (its webhook on the same trigger): the "Y" of "X of Y read by a person".
replies_sent = Table(
    "replies_sent",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("reply_key", BigInteger, primary_key=True, autoincrement=False),
    Column("sent_at", Float, nullable=False),
    Index("ix_replies_sent_sent_at", "sent_at"),
)

# Opens per UTC day, kind and client, kept up to date by triage: the dashboard
# reads these few rows instead of millions of opens.
daily_opens = Table(
    "daily_opens",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("client", String(40), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# Tracking-link events per campaign (from link metadata) and type, kept by dispatch.
campaign_events = Table(
    "campaign_events",
    metadata,
    Column("campaign", String(80), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("count", BigInteger, nullable=False),
)


deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("ticket_id", BigInteger, nullable=False),
    Column("reply_key", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # a NoteKind (replies.py): first | summary
    Column("open_id", BigInteger),
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    # A DeliveryState (deliveries.py): pending -> done | logged (dry run) | failed (final) | skipped | dead
    Column("state", String(16), nullable=False, server_default="pending"),
    *_outbox_columns(),
    # The words of a try and the opens they cover, kept before the call: a try whose outcome is unknown
    # (the courier was killed, or Zendesk never answered) is looked for on the ticket before it is posted again.
    Column("body", Text),
    Column("covered", Integer),
    Index("ix_deliveries_due", "state", "due_at"),
)

# The queue of ticket updates that carry no note: one row per ticket, holding what the service knows
# (a reply unread too long, the latest read) and what it last sent, so only the latest wanted state is sent.
ticket_updates = Table(
    "ticket_updates",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("ticket_id", BigInteger, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    # A TicketUpdateState (ticket_updates.py): pending -> done | skipped (nothing to send) | failed (final) | dead
    Column("state", String(16), nullable=False, server_default="pending"),
    Column(
        "wish", Integer, nullable=False, server_default="0"
    ),  # counts changes, so a send in flight is not taken for the latest
    Column("unread_sent_at", Float),  # the send time of the latest reply no person read within UNOPENED_AFTER_HOURS
    Column("read_at", Float),  # the latest open by a person
    Column("tag_sent", String(80)),  # the tag Zendesk has from us (UNOPENED_TAG when it was added), else null
    Column("field_sent", String(40)),  # the value READ_FIELD_ID was last set to
    Column("tagged_at", Float),  # when Zendesk was last given the tag
    Column("untagged_at", Float),  # when the tag was last taken away again
    *_outbox_columns(),
    Index("ix_ticket_updates_due", "state", "due_at"),
)

# Monotonic counts for /metrics (opens by kind, notes by outcome, Zendesk answers by
# status): kept apart from the rows themselves, which retention deletes.
tallies = Table(
    "tallies",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

budgets = Table(
    "budgets",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("used", Integer, nullable=False),
)

holds = Table(
    "holds",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("until", Float, nullable=False),
)

# How far each spool segment (a local file of opens and events, see intake/spool.py)
# has been moved into the store: advanced in the same transaction as the rows it
# moved, so a segment is never stored twice whatever dies in between.
spool_segments = Table(
    "spool_segments",
    metadata,
    Column("segment", String(80), primary_key=True),
    Column("position", BigInteger, nullable=False),  # bytes of the segment stored so far
    Column("done", Boolean, nullable=False, server_default=text("false")),  # fully stored; the file is deleted
    Column("updated_at", Float, nullable=False),
)

# Facts about the store itself: its id ("store"), which each spool directory names to belong to it.
store_identity = Table(
    "store_identity",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(64), nullable=False),
)

# Requesters who followed the opt-out link under the pixel (or whom an admin listed): never tracked again.
opt_outs = Table(
    "opt_outs",
    metadata,
    Column("requester_id", BigInteger, primary_key=True, autoincrement=False),
    Column("ticket_id", BigInteger),  # the ticket whose email held the link; empty when an admin added it
    Column("opted_out_at", Float, nullable=False),
)

# Recipients of tracking links (the `recipient` of their metadata) who followed a signed opt-out link.
recipient_opt_outs = Table(
    "recipient_opt_outs",
    metadata,
    Column("recipient", String(320), primary_key=True),
    Column("opted_out_at", Float, nullable=False),
)

# Addresses that agents' own browsers came from (the Zendesk sidebar app's pass): their loads are `agent`.
agent_addresses = Table(
    "agent_addresses",
    metadata,
    Column("address", String(45), primary_key=True),  # in full: it is matched against each load's address
    Column("agent_id", BigInteger, nullable=False),  # the Zendesk user last seen there
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    # learned (applied) | flagged (verified requesters' reads came from it too: not applied) | confirmed (by the admin)
    Column("state", String(16), nullable=False),
    Column("verified_reads", Integer, nullable=False, server_default="0"),  # found when it was last checked
    Column("checked_at", Float, nullable=False, server_default="0"),  # when its verified reads were counted
)

# Agent passes already used: a pass is single-use, kept here until it has expired anyway.
agent_passes = Table(
    "agent_passes",
    metadata,
    Column("pass_id", String(32), primary_key=True),
    Column("used_at", Float, nullable=False),
    Index("ix_agent_passes_used_at", "used_at"),
)
