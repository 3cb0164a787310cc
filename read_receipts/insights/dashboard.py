"""The dashboard, the JSON and CSV API (erasure included), and Zendesk's "reply sent" webhook."""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import hmac
import io
import json
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from read_receipts.insights import analytics
from read_receipts.intake import pixel

board = Blueprint("dashboard", __name__, template_folder="templates")
PAGE_MAX = 1000
REPLY_BODY_MAX = 64 * 1024  # a reply-sent payload is a few hundred bytes
STAMP_TOLERANCE = 300.0  # seconds a Zendesk webhook's timestamp may be off: older ones are replays


def _settings():
    return current_app.extensions["settings"]


def _store():
    return current_app.extensions["store"]


def bearer_matches(token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (compared in constant time)."""
    offered = request.headers.get("Authorization", "")
    return (
        bool(token)
        and offered.startswith("Bearer ")
        and hmac.compare_digest(offered.removeprefix("Bearer ").encode(), token.encode())
    )


def _allowed(api: bool) -> Response | None:
    """None when the request may go on; otherwise the refusal (404 when the feature is off)."""
    settings = _settings()
    if not (settings.admin_user and settings.admin_password) and not (api and settings.api_token):
        return Response("the dashboard is off: set ADMIN_USER and ADMIN_PASSWORD\n", 404, mimetype="text/plain")
    if api and bearer_matches(settings.api_token):
        return None
    auth = request.authorization
    if auth is None or auth.type != "basic" or not settings.admin_password:
        return _log_in()
    logins, address = current_app.extensions["logins"], request.remote_addr or "unknown"
    wait = logins.wait_for(address)
    if wait:
        return Response("too many failed logins: wait and try again\n", 429, {"Retry-After": str(int(wait) + 1)})
    user_ok = hmac.compare_digest((auth.username or "").encode(), settings.admin_user.encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(), settings.admin_password.encode())
    if user_ok and password_ok:
        logins.succeeded(address)
        return None
    logins.failed(address, auth.username or "")
    return _log_in()


def _log_in() -> Response:
    """Ask for the dashboard login."""
    return Response("log in\n", 401, {"WWW-Authenticate": 'Basic realm="read receipts", charset="UTF-8"'})


def _login(api: bool):
    """Refuse a view to anyone without the dashboard login (or, for the API, its token)."""

    def wrap(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            return _allowed(api) or view(*args, **kwargs)

        return guarded

    return wrap


@board.get("/dashboard")
@_login(api=False)
def main_page():
    """Opens per day, replies opened, time to first open, clients, recent opens, campaigns."""
    when = _period()
    figures = analytics.summary(_store(), when)
    return render_template("dashboard.html", when=when, figures=figures, chart=_chart(figures["opens_per_day"]))


@board.get("/dashboard/tickets/<int:ticket_id>")
@_login(api=False)
def ticket_page(ticket_id: int):
    """One ticket's opens and clicks, with a link to it in Zendesk."""
    if pixel.zendesk_id(str(ticket_id)) is None:  # no Zendesk id is this long
        abort(404, "no such ticket")
    settings = _settings()
    agent_url = settings.zendesk_url or (
        f"https://{settings.zendesk_subdomain}.zendesk.com" if settings.zendesk_subdomain else ""
    )
    rows = analytics.timeline(_store(), ticket_id)
    return render_template("ticket.html", ticket_id=ticket_id, rows=rows, agent_url=agent_url)


def _period() -> analytics.Period:
    """The period asked for in `from` and `to`; 400 for dates out of range."""
    try:
        return analytics.period(request.args.get("from"), request.args.get("to"))
    except ValueError as error:
        abort(400, str(error))


@board.get("/api/summary")
@_login(api=True)
def api_summary():
    """The main page's figures as JSON."""
    when = _period()
    return jsonify(
        period={"from": when.first.isoformat(), "to": when.last.isoformat()}, **analytics.summary(_store(), when)
    )


@board.get("/api/opens")
@board.get("/api/events")
@_login(api=True)
def api_listing():
    """Opens (pixel loads) or events (tracking-link opens and clicks), filtered and paginated; CSV with format=csv."""
    source = "opens" if request.path.endswith("/opens") else "events"
    try:
        filters, after_id, limit = _filters()
    except ValueError as error:
        return jsonify(error={"status": 400, "message": str(error)}), 400
    items = analytics.listing(_store(), source, filters, after_id, limit)
    if request.args.get("format") == "csv":
        return _csv(items, source)
    next_after = items[-1]["id"] if len(items) == limit else None
    return jsonify(items=items, next_after_id=next_after)


def _filters() -> tuple[dict, int, int]:
    """Read the filters, the cursor and the page size; ValueError says what is wrong."""
    args = request.args
    filters = {
        "ticket_id": _int(args.get("ticket_id"), "ticket_id"),
        "requester_id": _int(args.get("requester_id"), "requester_id"),
        "kind": args.get("kind") or None,
        "campaign": args.get("campaign") or None,
        "since": _time(args.get("since"), "since"),
        "until": _time(args.get("until"), "until"),
    }
    after_id = _int(args.get("after_id"), "after_id") or 0
    limit = min(PAGE_MAX, _int(args.get("limit"), "limit") or 100)
    return filters, after_id, limit


def _int(raw: str | None, name: str) -> int | None:
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValueError(f"{name} must be a whole number")
    return int(raw)


def _time(raw: str | None, name: str) -> float | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be an ISO 8601 date or time, e.g. 2026-11-22T13:00:00Z") from None


def _csv(items: list[dict], source: str) -> Response:
    """Render rows as CSV, with every column a row may have."""
    columns = ["id", "type", "at", "ticket_id", "requester_id", "reply", "kind", "client", "state", "ip"]
    if source == "events":
        columns = ["id", "type", "at", "meta", "target", "ip"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        writer.writerow({key: json.dumps(value) if isinstance(value, dict) else value for key, value in item.items()})
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={source}.csv"}
    )


@board.post("/api/erasure")
@_login(api=True)
def erasure():
    """Delete what is stored for {"ticket_id"}, {"requester_id"} or link metadata, and say what was deleted."""
    try:
        ticket_id, requester_id, meta = _erasure_request(request.get_json(silent=True))
    except ValueError as error:
        return jsonify(error={"status": 400, "message": str(error)}), 400
    return jsonify(deleted=_store().privacy.erase(ticket_id, requester_id, meta)), 200


def _erasure_request(asked) -> tuple[int | None, int | None, dict]:
    """Read what an erasure names; ValueError unless every key names something definite."""
    if not isinstance(asked, dict) or not asked:
        raise ValueError(
            'send JSON such as {"ticket_id": 42}, {"requester_id": 7} or {"meta": {"campaign": "november"}}'
        )
    meta = dict(asked)
    if isinstance(meta.get("meta"), dict):  # {"meta": {...}}, as links carry it, or its keys at the top
        meta.update(meta.pop("meta"))
    ticket_id, requester_id = _erasure_id(meta, "ticket_id"), _erasure_id(meta, "requester_id")
    for key, value in meta.items():
        if not key or isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            raise ValueError(f"{key or 'a key'!r} needs a non-empty string or number: an erasure names what it erases")
    if ticket_id is None and requester_id is None and not meta:
        raise ValueError('name what to erase: {"ticket_id": 42}, {"requester_id": 7} or {"meta": {"campaign": "nov"}}')
    return ticket_id, requester_id, meta


def _erasure_id(asked: dict, name: str) -> int | None:
    """Take a Zendesk id out of an erasure request; ValueError when the key is there without an id."""
    if name not in asked:
        return None
    raw = asked.pop(name)
    parsed = pixel.zendesk_id(str(raw)) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
    if parsed is None:
        raise ValueError(f"{name} must be a Zendesk id, e.g. 42")
    return parsed


@board.post("/zendesk/replies")
def reply_sent():
    """Zendesk's webhook on the reply trigger: remember the reply, for "X of Y replies opened"."""
    secret = _settings().zendesk_webhook_secret
    if not secret:
        return jsonify(error={"status": 404, "message": "set ZENDESK_WEBHOOK_SECRET to receive Zendesk's webhook"}), 404
    stamp = request.headers.get("X-Zendesk-Webhook-Signature-Timestamp", "")
    offered = request.headers.get("X-Zendesk-Webhook-Signature", "")
    if not offered or not _recent(stamp):  # refused before a byte of the body is read
        return jsonify(error={"status": 401, "message": "missing signature, or timestamp not within 5 minutes"}), 401
    # A declared length over the limit gets 413 unread; a chunked body is read one byte past it, no more.
    request.max_content_length = REPLY_BODY_MAX + 1
    body = request.get_data()
    if len(body) > REPLY_BODY_MAX:
        abort(413, f"a reply-sent webhook body is at most {REPLY_BODY_MAX} bytes")
    expected = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected.encode(), offered.encode()):
        return jsonify(error={"status": 401, "message": "bad X-Zendesk-Webhook-Signature"}), 401
    try:
        sent = json.loads(body)
    except ValueError:
        sent = None
    ticket_id = pixel.zendesk_id(str((sent or {}).get("ticket_id", ""))) if isinstance(sent, dict) else None
    if ticket_id is None:
        return jsonify(error={"status": 400, "message": 'send {"ticket_id", "comment_id", "sent"}'}), 400
    reply_key = pixel.zendesk_id(str(sent.get("comment_id", ""))) or 0
    sent_at = pixel.sent_time(str(sent.get("sent", ""))) or datetime.now().timestamp()
    known = not _store().events.record_reply_sent(ticket_id, reply_key, sent_at)
    return jsonify(recorded=not known), 200


def _recent(stamp: str) -> bool:
    """Whether a webhook's ISO 8601 timestamp is within STAMP_TOLERANCE of now (Zendesk's advice against replays)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return abs(datetime.now(UTC).timestamp() - moment.timestamp()) <= STAMP_TOLERANCE
    except (ValueError, OverflowError):
        return False


def _chart(per_day: dict[str, dict]) -> dict:
    """Bar geometry for the opens-per-day SVG (people and machines side by side)."""
    peak = max([1] + [max(day["people"], day["machines"]) for day in per_day.values()])
    width = max(1.0, 600 / max(1, len(per_day)))
    bars = []
    for index, (day, counts) in enumerate(per_day.items()):
        x = index * width
        for offset, series in ((0.1, "people"), (0.5, "machines")):
            height = 180 * counts[series] / peak
            bars.append(
                {
                    "x": x + width * offset,
                    "y": 190 - height,
                    "w": width * 0.38,
                    "h": height,
                    "series": series,
                    "title": f"{day}: {counts[series]} {series}",
                }
            )
    return {"bars": bars, "peak": peak, "first": next(iter(per_day), ""), "last": next(reversed(per_day), "")}
