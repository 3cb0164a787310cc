"""The dashboard's pages: overview, opens, campaigns and each ticket, behind the admin login."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request

from read_receipts.delivery import notes
from read_receipts.insights import analytics, chart, display, replies_page, ticket_view
from read_receipts.insights.api import OPEN_STATES, api, read_filters
from read_receipts.insights.errors import BadRequest
from read_receipts.insights.guards import login_required
from read_receipts.insights.reply_webhook import reply_hook
from read_receipts.intake import pixel
from read_receipts.labels.openers import KINDS

board = Blueprint("dashboard", __name__, template_folder="templates")
board.register_blueprint(api)
board.register_blueprint(reply_hook)
board.register_blueprint(replies_page.replies_page)
OPENS_PAGE = 50  # rows on one page of opens
PAGES = (
    ("replies", "/dashboard/replies", "Replies"),
    ("agents-replies", "/dashboard/agents-replies", "Agents' replies"),
)
PAGES += (("overview", "/dashboard", "Overview"), ("opens", "/dashboard/opens", "Opens"))
PAGES += (
    ("campaigns", "/dashboard/campaigns", "Campaigns"),
    ("dead-letters", "/dashboard/dead-letters", "Dead letters"),
)


def _settings():
    return current_app.extensions["settings"]


def _store():
    return current_app.extensions["store"]


@board.app_context_processor
def _words() -> dict:
    """What every page's template uses: the navigation, and words and times in the display zone."""
    zone, now = _settings().display_timezone, time.time()
    return {
        "pages": PAGES,
        "zone": zone,
        "kind_words": display.kind_words,
        "state_words": display.state_words,
        "ticket_words": display.ticket_words,
        "note_words": display.note_words,
        "when": lambda stamp: display.moment(stamp, zone),
        "when_iso": lambda iso: display.moment(display.iso_moment(iso), zone),
        "ago": lambda stamp: display.ago(stamp, now),
        "ago_iso": lambda iso: display.ago(display.iso_moment(iso), now),
        "duration": notes.elapsed,  # the notes' words for a delay: '2 h 13 min'
        "legend": display.KIND_WORDS,
        "state_legend": display.STATE_WORDS,
    }


@board.get("/dashboard")
@login_required(api=False)
def main_page():
    """Opens per day, replies read by a person, time to first reading, clients, the latest opens."""
    status = 200
    try:
        period = analytics.period(request.args.get("from"), request.args.get("to"))
    except BadRequest as error:  # the page still shows, the last 30 days, saying why
        period, status = analytics.period(None, None), 400
        period = analytics.Period(period.first, period.last, f"{error}: showing the last 30 days.")
    figures = analytics.summary(_store(), period)
    chart_drawn = chart.draw(figures["opens_per_day"])
    unread = replies_page.unopened_count(_store())
    page = render_template(
        "dashboard.html", page="overview", period=period, figures=figures, chart=chart_drawn, unread=unread
    )
    return page, status


@board.get("/dashboard/opens")
@login_required(api=False)
def opens_page():
    """Every open, newest first: filters by kind, client and state, search by ticket, paging."""
    asked = {name: request.args.get(name, "") for name in ("ticket_id", "kind", "client", "state", "before")}
    before, notice, status = None, "", 200
    try:
        filters, _, _ = read_filters({k: v for k, v in asked.items() if k != "before"}, "opens")
        before = _before(asked["before"])
    except BadRequest as error:
        filters, notice, status = {}, str(error), 400
    rows = analytics.listing(_store(), "opens", filters, 0, OPENS_PAGE + 1, before_id=before or 10**18)
    older = rows[OPENS_PAGE - 1]["id"] if len(rows) > OPENS_PAGE else None
    kept = {name: value for name, value in asked.items() if value and name != "before"}
    page = render_template(
        "opens.html",
        page="opens",
        rows=rows[:OPENS_PAGE],
        asked=asked,
        notice=notice,
        kinds=KINDS,
        states=OPEN_STATES,
        clients=_client_names(),
        older=f"/dashboard/opens?{urlencode({**kept, 'before': older})}" if older else "",
        newest=f"/dashboard/opens?{urlencode(kept)}" if before else "",
    )
    return page, status


def _before(raw: str) -> int | None:
    """The paging cursor: the id the page starts below."""
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadRequest("before must be a whole number")
    return int(raw)


def _client_names() -> list[str]:
    """The clients seen in the last year, for the filter."""
    return analytics.summary_clients(_store(), analytics.period(None, None, span=analytics.MAX_DAYS))


@board.get("/dashboard/campaigns")
@login_required(api=False)
def campaigns_page():
    """Opens and clicks per campaign of tracking links."""
    return render_template("campaigns.html", page="campaigns", campaigns=analytics.campaigns(_store()))


@board.get("/dashboard/tickets/<int:ticket_id>")
@login_required(api=False)
def ticket_page(ticket_id: int):
    """One ticket: Zendesk's status and requester, its loads and clicks, the notes posted, with a link to it."""
    if pixel.zendesk_id(str(ticket_id)) is None:  # no Zendesk id is this long
        abort(404, "no such ticket")
    settings = _settings()
    agent_url = settings.zendesk_url or (
        f"https://{settings.zendesk_subdomain}.zendesk.com" if settings.zendesk_subdomain else ""
    )
    shown = ticket_view.view(_store(), settings, ticket_id)
    return render_template("ticket.html", page="", ticket=shown, agent_url=agent_url)
