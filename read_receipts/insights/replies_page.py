"""The dashboard's replies: each reply's status, newest first, the unopened ones on top, and figures per agent."""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from datetime import time as dt_time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request

from read_receipts.delivery import notes
from read_receipts.insights import analytics
from read_receipts.insights.api import choice, whole
from read_receipts.insights.errors import BadRequest
from read_receipts.insights.guards import login_required
from read_receipts.store import reply_board
from read_receipts.store.reply_statuses import ReplyFilter, ReplyState, ReplyStatus

replies_page = Blueprint("replies_page", __name__, template_folder="templates")
REPLIES_PAGE = 50  # rows on one page of replies
UNREAD_LISTED = 20  # the unopened replies listed on top; the rest are one filter away
A_DAY = 86400.0  # the list's age when UNOPENED_AFTER_HOURS is 0 (tagging off): a lead still works through it
CSV_MAX = 10_000  # rows of one download
ASKED = ("status", "agent_id", "ticket_id", "from", "to")

# A reply's status in words, as the sidebar app and the notes say it.
STATUS_WORDS = {
    ReplyStatus.READ: "read",
    ReplyStatus.PRELOADED: "preloaded only",
    ReplyStatus.MACHINES: "machines only",
    ReplyStatus.NOT_OPENED: "not opened",
}
STATUS_MEANINGS = {
    ReplyStatus.READ: "a person loaded its images: the requester (or someone in copy) read it",
    ReplyStatus.PRELOADED: "Apple Mail Privacy Protection fetched its images on delivery: it reached Apple Mail, "
    "nobody is known to have read it",
    ReplyStatus.MACHINES: "only machines loaded it: mail scanners, Gmail's prefetch, bots; not a read",
    ReplyStatus.NOT_OPENED: "Zendesk sent it and nothing loaded its images yet",
}


def _store():
    return current_app.extensions["store"]


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def readers(state: ReplyState) -> str:
    """Who could have read a reply: the requester, and the people in copy."""
    if state.ccs <= 0:
        return "the requester"
    return f"the requester or one of {state.ccs} {'person' if state.ccs == 1 else 'people'} in copy"


def sent_at(state: ReplyState) -> float:
    """A reply's time as best known: Zendesk's, else the comment's, else its first load."""
    return next(t for t in (state.sent_at, state.written_at, state.seen_at) if t is not None)


def to_read(state: ReplyState) -> str:
    """The time from sending to the first read by a person, in the notes' words."""
    return notes.elapsed(state.first_read_at - sent_at(state)) if state.first_read_at is not None else ""


@replies_page.app_context_processor
def _words() -> dict:
    return {
        "status_words": status_words,
        "status_legend": {STATUS_WORDS[s]: STATUS_MEANINGS[s] for s in ReplyStatus},
        "readers": readers,
        "reply_sent": sent_at,
        "to_read": to_read,
        "to_read_seconds": lambda seconds: notes.elapsed(seconds) if seconds is not None else "",
        "unread_after_hours": f"{unread_after() / 3600:g}",
    }


def read_asked(args: Mapping[str, str]) -> tuple[ReplyFilter, analytics.Period | None]:
    """The filters of the page and its CSV; BadRequest says what is wrong."""
    status = choice(args.get("status"), "status", tuple(ReplyStatus))
    period = None
    if args.get("from") or args.get("to"):
        period = analytics.period(args.get("from"), args.get("to"))
    since, until = days_in_zone(period) if period else (None, None)
    wanted = ReplyFilter(
        status=ReplyStatus(status) if status else None,
        agent_id=whole(args.get("agent_id"), "agent_id"),
        ticket_id=whole(args.get("ticket_id"), "ticket_id"),
        since=since,
        until=until,
    )
    return wanted, period


def days_in_zone(period: analytics.Period) -> tuple[float, float]:
    """A period's first midnight and the midnight after its last day, in the display zone (the days a lead sees)."""
    zone = ZoneInfo(current_app.extensions["settings"].display_timezone)
    first = datetime.combine(period.first, dt_time(), zone)
    after = datetime.combine(period.last + timedelta(days=1), dt_time(), zone)
    return first.timestamp(), after.timestamp()


def _cursor(raw: str) -> reply_board.Cursor | None:
    """The paging cursor: the time and id the page starts below, as `<time>_<id>`."""
    if not raw:
        return None
    at, _, ident = raw.partition("_")
    try:
        cursor = reply_board.Cursor(float(at), int(ident))
    except ValueError:
        cursor = None
    if cursor is None or not math.isfinite(cursor.seen_at):
        raise BadRequest("before must be a paging link's value, e.g. 1795000000.0_42")
    return cursor


def unread_after() -> float:
    """Seconds after which a reply nothing opened goes on top: UNOPENED_AFTER_HOURS, else a day."""
    return current_app.extensions["settings"].unopened_after or A_DAY


def unopened_count(store) -> int:
    """How many replies nothing opened after UNOPENED_AFTER_HOURS, for the overview's first line."""
    return reply_board.unopened(store, time.time() - unread_after(), ReplyFilter(), 0)[0]


@replies_page.get("/dashboard/replies")
@login_required(api=False)
def replies():
    """Replies newest first with their status; those nobody opened after a day on top; filters and paging."""
    asked = {name: request.args.get(name, "") for name in (*ASKED, "before")}
    notice, status = "", 200
    try:
        wanted, period = read_asked(asked)
        below = _cursor(asked["before"])
    except BadRequest as error:
        wanted, period, below, notice, status = ReplyFilter(), None, None, str(error), 400
    notice = notice or (period.notice if period else "")
    store = _store()
    rows = reply_board.newest(store, wanted, below, REPLIES_PAGE + 1)
    unread_total, unread = 0, []
    if wanted.status is None:  # with a status asked for, the list below is the list
        cutoff = time.time() - unread_after()
        unread_total, unread = reply_board.unopened(store, cutoff, wanted, UNREAD_LISTED)
    kept = {name: value for name, value in asked.items() if value and name != "before"}
    last = rows[REPLIES_PAGE - 1] if len(rows) > REPLIES_PAGE else None
    page = render_template(
        "replies.html",
        page="replies",
        rows=rows[:REPLIES_PAGE],
        unread=unread,
        unread_total=unread_total,
        asked=asked,
        notice=notice,
        statuses=list(ReplyStatus),
        agents=reply_board.agent_names(store),
        csv_link=f"/dashboard/replies.csv?{urlencode(kept)}",
        unread_link=f"/dashboard/replies?{urlencode({**kept, 'status': ReplyStatus.NOT_OPENED})}",
        older=f"/dashboard/replies?{urlencode({**kept, 'before': f'{last.seen_at!r}_{last.id}'})}" if last else "",
        newest=f"/dashboard/replies?{urlencode(kept)}" if below else "",
    )
    return page, status


@replies_page.get("/dashboard/replies.csv")
@login_required(api=False)
def replies_csv():
    """The replies the page's filters show, as a spreadsheet (at most CSV_MAX rows, newest first)."""
    wanted, _ = read_asked(request.args)
    zone = current_app.extensions["settings"].display_timezone
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["ticket_id", "reply", "status", "sent_at", "agent", "first_read_at", "time_to_read", "reads", "could_read"]
    )
    for state in reply_board.newest(_store(), wanted, None, CSV_MAX):
        writer.writerow(
            [
                state.ticket_id,
                state.reply_key or "",
                status_words(state.status),
                _local(sent_at(state), zone),
                state.author or "",
                _local(state.first_read_at, zone),
                to_read(state),
                state.reads,
                readers(state),
            ]
        )
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=replies.csv"}
    )


def _local(stamp: float | None, zone: str) -> str:
    """A time as a spreadsheet reads it, in the display zone: '2026-11-22 14:03:00+01:00'."""
    return datetime.fromtimestamp(stamp, ZoneInfo(zone)).isoformat(" ", "seconds") if stamp is not None else ""


@replies_page.get("/dashboard/agents-replies")
@login_required(api=False)
def agents_replies():
    """Per agent (and group) over a period: replies sent, share read by a person, median time to read, preloaded."""
    status = 200
    try:
        period = analytics.period(request.args.get("from"), request.args.get("to"))
    except BadRequest as error:
        period, status = analytics.period(None, None), 400
        period = analytics.Period(period.first, period.last, f"{error}: showing the last 30 days.")
    days = days_in_zone(period)
    figures, groups = reply_board.agents(_store(), *days), reply_board.groups(_store(), *days)
    page = render_template("agents_replies.html", page="agents-replies", period=period, figures=figures, groups=groups)
    return page, status
