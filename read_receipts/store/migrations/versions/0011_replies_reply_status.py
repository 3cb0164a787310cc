"""Reply statuses (not opened, machines, preloaded, read), comments' times and authors, people in copy.

Replies already known (reported sent, or seen through their pixel) get their status from the opens
they have; each reply's counters learn their opens by kind, so summaries say what the loads were.

Revision ID: 0011_replies
Revises: 0010_truthful
Created: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_replies"
down_revision = "0010_truthful"
branch_labels = None
depends_on = None

ORDER = ("not_opened", "machines", "preloaded", "read")
LOADS = ("counted", "noted", "skipped", "closed")  # verified loads, noted or not
COUNTED = ("counted", "noted")

opens = sa.table(
    "opens",
    sa.column("id", sa.BigInteger),
    sa.column("ticket_id", sa.BigInteger),
    sa.column("comment_id", sa.BigInteger),
    sa.column("opened_at", sa.Float),
    sa.column("client", sa.String),
    sa.column("kind", sa.String),
    sa.column("state", sa.String),
)
replies = sa.table(
    "replies",
    sa.column("ticket_id", sa.BigInteger),
    sa.column("reply_key", sa.BigInteger),
    sa.column("first_open_at", sa.Float),
    sa.column("opens", sa.Integer),
    sa.column("opens_noted", sa.Integer),
    sa.column("sent_at", sa.Float),
    sa.column("person_opens", sa.Integer),
    sa.column("preload_opens", sa.Integer),
    sa.column("person_noted", sa.Integer),
    sa.column("preload_noted", sa.Integer),
)
replies_sent = sa.table(
    "replies_sent", sa.column("ticket_id", sa.BigInteger), sa.column("reply_key", sa.BigInteger), sa.column("sent_at")
)
tickets = sa.table("tickets", sa.column("ticket_id", sa.BigInteger), sa.column("public_comments", sa.Text))


def upgrade() -> None:
    """Add the tables and columns, then give every known reply its status and its counters by kind."""
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ccs", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("replies", schema=None) as batch_op:
        for name in ("person_opens", "preload_opens", "person_noted", "preload_noted"):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "comments",
        sa.Column("ticket_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("comment_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=True),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("author_name", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", "comment_id"),
    )
    statuses = op.create_table(
        "reply_statuses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_key", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="not_opened", nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("first_read_at", sa.Float(), nullable=True),
        sa.Column("reads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("client", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.BigInteger(), nullable=True),
        sa.Column("agent_name", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reply_statuses", schema=None) as batch_op:
        batch_op.create_index("ix_reply_statuses_reply", ["ticket_id", "reply_key"], unique=True)
        batch_op.create_index("ix_reply_statuses_seen_at", ["seen_at"], unique=False)
    conn = op.get_bind()
    known = _known_replies(conn)
    rows = _statuses(conn, known)
    if rows:
        op.bulk_insert(statuses, rows)
    _count_by_kind(conn, known)


def _known_replies(conn) -> dict[tuple[int, int], dict]:
    """Every reply the store knows (counted through its pixel, or reported sent), with its time."""
    known: dict[tuple[int, int], dict] = {}
    for ticket_id, key, first_open_at, sent_at in conn.execute(
        sa.select(replies.c.ticket_id, replies.c.reply_key, replies.c.first_open_at, replies.c.sent_at)
    ):
        known[(ticket_id, key)] = {"seen_at": sent_at if sent_at is not None else first_open_at, "sent_at": sent_at}
    for ticket_id, key, sent_at in conn.execute(sa.select(replies_sent)):
        reply = known.setdefault((ticket_id, key), {"seen_at": sent_at, "sent_at": sent_at})
        reply["sent_at"] = reply["sent_at"] if reply["sent_at"] is not None else sent_at
        reply["seen_at"] = min(reply["seen_at"], sent_at)
    return known


def _statuses(conn, known: dict[tuple[int, int], dict]) -> list[dict]:
    """The status of every known reply, and of replies loaded only by machines, from their verified loads."""
    listed = {ticket_id: set((public or "").split()) for ticket_id, public in conn.execute(sa.select(tickets))}
    found = {
        key: {**reply, "status": "not_opened", "reads": 0, "first_read_at": None, "client": None}
        for key, reply in known.items()
    }
    groups = conn.execute(
        sa.select(
            opens.c.ticket_id,
            opens.c.comment_id,
            opens.c.kind,
            opens.c.client,
            sa.func.count(),
            sa.func.min(opens.c.opened_at),
        )
        .where(opens.c.state.in_(LOADS), opens.c.kind.is_not(None), opens.c.kind != "agent")
        .group_by(opens.c.ticket_id, opens.c.comment_id, opens.c.kind, opens.c.client)
    )
    for ticket_id, comment_id, kind, client, count, first in groups:
        named = comment_id and ((ticket_id, comment_id) in known or str(comment_id) in listed.get(ticket_id, ()))
        reply = found.setdefault(
            (ticket_id, comment_id if named else 0),
            {
                "seen_at": first,
                "sent_at": None,
                "status": "not_opened",
                "reads": 0,
                "first_read_at": None,
                "client": None,
            },
        )
        reply["seen_at"] = min(reply["seen_at"], first)
        status = "read" if kind == "person" else "preloaded" if kind == "apple_preload" else "machines"
        if ORDER.index(status) > ORDER.index(reply["status"]):
            reply["status"] = status
        if kind == "person":
            reply["reads"] += count
            if reply["first_read_at"] is None or first < reply["first_read_at"]:
                reply["first_read_at"], reply["client"] = first, client
    return [{"ticket_id": t, "reply_key": k, **reply} for (t, k), reply in sorted(found.items())]


def _count_by_kind(conn, known: dict[tuple[int, int], dict]) -> None:
    """Give each reply's counters its counted opens by kind; those its notes told of are the oldest."""
    kinds: dict[tuple[int, int], list[str]] = {}
    rows = conn.execute(
        sa.select(opens.c.ticket_id, opens.c.comment_id, opens.c.kind)
        .where(opens.c.state.in_(COUNTED))
        .order_by(opens.c.id)
    )
    for ticket_id, comment_id, kind in rows:
        key = (ticket_id, comment_id) if comment_id and (ticket_id, comment_id) in known else (ticket_id, 0)
        kinds.setdefault(key, []).append(kind)
    for (ticket_id, key), noted in _noted(conn).items():
        seen = kinds.get((ticket_id, key), [])
        told = seen[:noted]
        conn.execute(
            sa.update(replies)
            .where(replies.c.ticket_id == ticket_id, replies.c.reply_key == key)
            .values(
                person_opens=seen.count("person"),
                preload_opens=seen.count("apple_preload"),
                person_noted=told.count("person"),
                preload_noted=told.count("apple_preload"),
            )
        )


def _noted(conn) -> dict[tuple[int, int], int]:
    """How many opens each reply's notes told of."""
    query = sa.select(replies.c.ticket_id, replies.c.reply_key, replies.c.opens_noted)
    return {(ticket_id, key): noted for ticket_id, key, noted in conn.execute(query)}


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("reply_statuses", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_statuses_seen_at")
        batch_op.drop_index("ix_reply_statuses_reply")
    op.drop_table("reply_statuses")
    op.drop_table("comments")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        for name in ("preload_noted", "person_noted", "preload_opens", "person_opens"):
            batch_op.drop_column(name)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("ccs")
