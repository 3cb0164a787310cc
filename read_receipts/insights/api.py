"""The JSON and CSV API: figures, opens and events with filters, erasure; every parameter checked."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, request

from read_receipts.insights import analytics, display, openapi
from read_receipts.insights.errors import BadRequest
from read_receipts.insights.guards import login_required
from read_receipts.intake import pixel
from read_receipts.labels.openers import KINDS

api = Blueprint("api", __name__)
PAGE_MAX = 1000
OPEN_STATES = tuple(display.STATE_WORDS)
EVENT_KINDS = ("open", "click")
FORMATS = ("json", "csv")
TEXT_MAX = 200  # a client or campaign name is short
COMMON = ("since", "until", "after_id", "limit", "format")
PARAMETERS = {
    "opens": ("ticket_id", "requester_id", "kind", "client", "state", *COMMON),
    "events": ("kind", "campaign", *COMMON),
    "summary": ("from", "to"),
}


def _store():
    return current_app.extensions["store"]


def known_only(args: Mapping[str, str], route: str) -> None:
    """BadRequest for a parameter the route does not take (a typo filters nothing)."""
    unknown = sorted(set(args) - set(PARAMETERS[route]))
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r}", PARAMETERS[route])


@api.get("/api/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of every /api/ route."""
    return jsonify(openapi.document(PAGE_MAX, EVENT_KINDS, OPEN_STATES, TEXT_MAX))


@api.get("/api/summary")
@login_required(api=True)
def summary():
    """The main page's figures as JSON."""
    known_only(request.args, "summary")
    when = analytics.period(request.args.get("from"), request.args.get("to"), cut=False)
    return jsonify(
        period={"from": when.first.isoformat(), "to": when.last.isoformat()}, **analytics.summary(_store(), when)
    )


@api.get("/api/opens")
@api.get("/api/events")
@login_required(api=True)
def listing():
    """Opens (pixel loads) or events (tracking-link opens and clicks), filtered and paginated; CSV with format=csv."""
    source = "opens" if request.path.endswith("/opens") else "events"
    known_only(request.args, source)
    filters, after_id, limit = read_filters(request.args, source)
    output = choice(request.args.get("format") or "json", "format", FORMATS)
    items = analytics.listing(_store(), source, filters, after_id, limit)
    if output == "csv":
        return _csv(items, source)
    next_after = items[-1]["id"] if len(items) == limit else None
    return jsonify(items=items, next_after_id=next_after)


def read_filters(args: Mapping[str, str], source: str) -> tuple[dict, int, int]:
    """Read the filters, the cursor and the page size; BadRequest says what is wrong and what is allowed."""
    kinds = KINDS if source == "opens" else EVENT_KINDS
    filters = {
        "ticket_id": whole(args.get("ticket_id"), "ticket_id"),
        "requester_id": whole(args.get("requester_id"), "requester_id"),
        "kind": choice(args.get("kind"), "kind", kinds),
        "campaign": text(args.get("campaign"), "campaign"),
        "client": text(args.get("client"), "client"),
        "state": choice(args.get("state"), "state", OPEN_STATES),
        "since": moment(args.get("since"), "since"),
        "until": moment(args.get("until"), "until"),
    }
    after_id = whole(args.get("after_id"), "after_id") or 0
    limit = whole(args.get("limit"), "limit")
    if limit is not None and not 1 <= limit <= PAGE_MAX:
        raise BadRequest(f"limit must be from 1 to {PAGE_MAX} (got {limit})")
    return filters, after_id, limit or 100


def choice(raw: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    """A value that must be one of a few; BadRequest naming them."""
    if raw in (None, ""):
        return None
    if raw not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)} (got {raw[:40]!r})", allowed)
    return raw


def text(raw: str | None, name: str) -> str | None:
    """A short name to match exactly; BadRequest for one no stored value can be (too long, a NUL)."""
    if raw in (None, ""):
        return None
    if len(raw) > TEXT_MAX or "\x00" in raw:
        raise BadRequest(f"{name} must be at most {TEXT_MAX} characters, without NUL")
    return raw


def whole(raw: str | None, name: str) -> int | None:
    """A whole number, e.g. an id; BadRequest for anything else."""
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadRequest(f"{name} must be a whole number (got {raw[:40]!r})")
    return int(raw)


def moment(raw: str | None, name: str) -> float | None:
    """An ISO 8601 date or time, as a timestamp (UTC unless it names its zone)."""
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be an ISO 8601 date or time, e.g. 2026-11-22T13:00:00Z") from None


def _csv(items: list[dict], source: str) -> Response:
    """Render rows as CSV, with every column a row may have."""
    columns = ["id", "type", "at", "ticket_id", "requester_id", "reply", "kind", "client", "state", "ip", "link"]
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


@api.post("/api/erasure")
@login_required(api=True)
def erasure():
    """Delete what is stored for {"ticket_id"}, {"requester_id"} or link metadata, and say what was deleted."""
    ticket_id, requester_id, meta = _erasure_request(request.get_json(silent=True))
    return jsonify(deleted=_store().privacy.erase(ticket_id, requester_id, meta)), 200


def _erasure_request(asked) -> tuple[int | None, int | None, dict]:
    """Read what an erasure names; BadRequest unless every key names something definite."""
    if not isinstance(asked, dict) or not asked:
        raise BadRequest(
            'send JSON such as {"ticket_id": 42}, {"requester_id": 7} or {"meta": {"campaign": "november"}}'
        )
    meta = dict(asked)
    if isinstance(meta.get("meta"), dict):  # {"meta": {...}}, as links carry it, or its keys at the top
        meta.update(meta.pop("meta"))
    ticket_id, requester_id = _erasure_id(meta, "ticket_id"), _erasure_id(meta, "requester_id")
    for key, value in meta.items():
        if not key or isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            raise BadRequest(f"{key or 'a key'!r} needs a non-empty string or number: an erasure names what it erases")
    if ticket_id is None and requester_id is None and not meta:
        raise BadRequest('name what to erase: {"ticket_id": 42}, {"requester_id": 7} or {"meta": {"campaign": "nov"}}')
    return ticket_id, requester_id, meta


def _erasure_id(asked: dict, name: str) -> int | None:
    """Take a Zendesk id out of an erasure request; BadRequest when the key is there without an id."""
    if name not in asked:
        return None
    raw = asked.pop(name)
    if isinstance(raw, float) and raw.is_integer():  # JSON's 42.0 is the number 42
        raw = int(raw)
    parsed = pixel.zendesk_id(str(raw)) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
    if parsed is None:
        raise BadRequest(f"{name} must be a Zendesk id, e.g. 42")
    return parsed
