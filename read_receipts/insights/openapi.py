"""The OpenAPI 3.1 document of the JSON API, built from the same constants the routes check against."""

from __future__ import annotations

from functools import cache

from read_receipts.labels.openers import KINDS

ID = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
TIME = {
    "type": "string",
    "anyOf": [{"format": "date"}, {"format": "date-time"}],
    "description": "ISO 8601 date or time, e.g. 2026-11-22T13:00:00Z (UTC unless zoned)",
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string", "examples": ["bad_request", "unauthorized"]},
                "message": {"type": "string"},
                "allowed": {"type": "array", "items": {"type": ["string", "integer"]}},
            },
        }
    },
}
OPEN = {
    "type": "object",
    "required": ["id", "type", "ticket_id", "at", "state"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"const": "open"},
        "ticket_id": {"type": "integer"},
        "requester_id": {"type": ["integer", "null"]},
        "reply": {"type": ["integer", "null"], "description": "the reply's comment id"},
        "at": {"type": "string"},
        "kind": {"type": ["string", "null"], "enum": [*KINDS, None]},
        "client": {"type": ["string", "null"]},
        "state": {"type": "string"},
        "ip": {"type": ["string", "null"]},
        "link": {"type": ["string", "null"], "enum": ["open", "click", None], "description": "a tracking link's"},
    },
}
EVENT = {
    "type": "object",
    "required": ["id", "type", "at", "meta"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"enum": ["open", "click"]},
        "at": {"type": "string"},
        "meta": {"type": "object"},
        "target": {"type": ["string", "null"]},
        "ip": {"type": ["string", "null"]},
    },
}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _errors(*statuses: int) -> dict:
    words = {
        400: "a parameter makes no sense",
        401: "no login or token",
        404: "the dashboard is off (no login set)",
        429: "too many failed logins from this address: wait Retry-After seconds",
    }
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(status): {"description": words.get(status, "refused"), "content": json_error} for status in statuses}


def _listing(item: str, parameters: list[dict], limit_max: int) -> dict:
    page = {
        "type": "object",
        "required": ["items", "next_after_id"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "next_after_id": {"type": ["integer", "null"], "description": "pass as after_id for the next page"},
        },
    }
    common = [
        _query("since", TIME),
        _query("until", TIME),
        _query("after_id", ID, "the id after which the page starts"),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": limit_max}, "page size, 100 by default"),
        _query("format", {"enum": ["json", "csv"]}),
    ]
    return {
        "get": {
            "summary": f"{item}s, filtered and paginated by id",
            "parameters": parameters + common,
            "security": [{"login": []}, {"token": []}],
            "responses": {
                "200": {
                    "description": "one page",
                    "content": {"application/json": {"schema": page}, "text/csv": {"schema": {"type": "string"}}},
                },
                **_errors(400, 401, 404, 429),
            },
        }
    }


@cache
def document(page_max: int, event_kinds: tuple[str, ...], open_states: tuple[str, ...], text_max: int) -> dict:
    """Describe every /api/ route, its parameters and its answers, with the limits the routes check."""
    text = {"type": "string", "maxLength": text_max, "pattern": "^[^\\u0000]*$"}  # the routes refuse a NUL
    opens = [
        _query("ticket_id", ID),
        _query("requester_id", ID),
        _query("kind", {"enum": list(KINDS)}),
        _query("client", text, "the mail client, e.g. Gmail"),
        _query("state", {"enum": list(open_states)}),
    ]
    events = [_query("kind", {"enum": list(event_kinds)}), _query("campaign", text)]
    day = {"type": "string", "format": "date"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Read receipts API", "version": "1"},
        "paths": {
            "/api/summary": {
                "get": {
                    "summary": "the dashboard's figures for a date range (at most 366 days)",
                    "parameters": [_query("from", day), _query("to", day)],
                    "security": [{"login": []}, {"token": []}],
                    "responses": {
                        "200": {"description": "the figures", "content": {"application/json": {"schema": SUMMARY}}},
                        **_errors(400, 401, 404, 429),
                    },
                }
            },
            "/api/opens": _listing("Open", opens, page_max),
            "/api/events": _listing("Event", events, page_max),
            "/api/erasure": {
                "post": {
                    "summary": "delete what is stored for a ticket, a requester or link metadata",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ERASURE}},
                    },
                    "security": [{"login": []}, {"token": []}],
                    "responses": {
                        "200": {
                            "description": "what was deleted, by table",
                            "content": {"application/json": {"schema": DELETED}},
                        },
                        **_errors(400, 401, 404, 429),
                    },
                }
            },
            "/api/tickets/{ticket_id}/replies": {
                "get": {
                    "summary": "each reply of a ticket with its status (what the Zendesk sidebar app shows)",
                    "parameters": [_path("ticket_id", {**ID, "minimum": 1})],
                    "security": [{"login": []}, {"token": []}],
                    "responses": {
                        "200": {"description": "the replies", "content": _json(TICKET_REPLIES)},
                        **_errors(401, 404, 429),
                    },
                }
            },
            "/api/agents/pass": {
                "get": {
                    "summary": "a short-lived, single-use pass an agent's browser presents at /agents/seen",
                    "parameters": [
                        {**_query("agent_id", {**ID, "minimum": 1}, "the agent's Zendesk user id"), "required": True}
                    ],
                    "security": [{"login": []}, {"token": []}],
                    "responses": {
                        "200": {"description": "the pass", "content": _json(AGENT_PASS)},
                        **_errors(400, 401, 404, 429),
                    },
                }
            },
            "/api/opt-outs": {
                "get": {
                    "summary": "requesters and tracking-link recipients who opted out, newest first",
                    "security": [{"login": []}, {"token": []}],
                    "responses": {
                        "200": {"description": "the opt-outs", "content": _json(OPT_OUTS)},
                        **_errors(401, 404, 429),
                    },
                }
            },
            "/api/opt-outs/{requester_id}": {
                "delete": {
                    "summary": "track a requester again",
                    "parameters": [_path("requester_id", {**ID, "minimum": 1})],
                    "security": [{"login": []}, {"token": []}],
                    "responses": {
                        "200": {"description": "revoked", "content": _json(REVOKED)},
                        **_errors(401, 404, 429),
                    },
                }
            },
            "/api/opt-outs/recipients/{recipient}": {
                "delete": {
                    "summary": "track a tracking-link recipient again",
                    "parameters": [_path("recipient", {"type": "string", "minLength": 1})],
                    "security": [{"login": []}, {"token": []}],
                    "responses": {
                        "200": {"description": "revoked", "content": _json(REVOKED)},
                        **_errors(401, 404, 429),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "this document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {"Error": ERROR, "Open": OPEN, "Event": EVENT},
            "securitySchemes": {
                "login": {"type": "http", "scheme": "basic", "description": "ADMIN_USER and ADMIN_PASSWORD"},
                "token": {"type": "http", "scheme": "bearer", "description": "API_TOKEN"},
            },
        },
    }


SUMMARY = {
    "type": "object",
    "required": ["period", "opens_per_day", "clients", "replies", "time_to_open", "recent", "campaigns"],
    "properties": {
        "period": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}}},
        "opens_per_day": {"type": "object"},
        "clients": {"type": "object", "additionalProperties": {"type": "integer"}},
        "replies": {
            "type": "object",
            "properties": {
                "sent": {"type": "integer"},
                "opened": {"type": "integer"},
                "source": {"enum": ["zendesk", "pixel"]},
            },
        },
        "time_to_open": {"type": "object"},
        "recent": {"type": "array", "items": {"$ref": "#/components/schemas/Open"}},
        "campaigns": {"type": "array"},
        "not_counted": {"type": "object"},
    },
}
ERASURE = {
    "type": "object",
    "minProperties": 1,
    "description": 'e.g. {"ticket_id": 42}, {"requester_id": 7}, or link metadata such as {"campaign": "november"}',
    "properties": {"ticket_id": {**ID, "minimum": 1}, "requester_id": {**ID, "minimum": 1}},
    "propertyNames": {"minLength": 1},
    "additionalProperties": {"type": ["string", "number"], "minLength": 1},
}
DELETED = {
    "type": "object",
    "required": ["deleted"],
    "properties": {"deleted": {"type": "object", "additionalProperties": {"type": "integer"}}},
}
NULLABLE_TIME = {"type": ["string", "null"]}
TICKET_REPLIES = {
    "type": "object",
    "required": ["ticket_id", "dashboard_url", "replies"],
    "properties": {
        "ticket_id": {"type": "integer"},
        "dashboard_url": {"type": "string"},
        "replies": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["reply", "status", "reads"],
                "properties": {
                    "reply": {"type": ["integer", "null"], "description": "the reply's comment id"},
                    "sent_at": NULLABLE_TIME,
                    "author": {"type": ["string", "null"]},
                    "status": {"enum": ["read", "preloaded", "machines", "not_opened"]},
                    "first_read_at": NULLABLE_TIME,
                    "reads": {"type": "integer"},
                    "client": {"type": ["string", "null"]},
                    "ccs": {"type": "integer", "description": "people in copy who also got the email"},
                },
            },
        },
    },
}
AGENT_PASS = {
    "type": "object",
    "required": ["agent_id", "seen_url", "expires_in", "pass"],
    "properties": {
        "agent_id": {"type": "integer"},
        "seen_url": {"type": "string"},
        "expires_in": {"type": "number"},
        "pass": {"type": "string"},
    },
}
OPT_OUTS = {
    "type": "object",
    "required": ["items", "recipients"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "requester_id": {"type": "integer"},
                    "ticket_id": {"type": ["integer", "null"]},
                    "opted_out_at": {"type": "string"},
                },
            },
        },
        "recipients": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"recipient": {"type": "string"}, "opted_out_at": {"type": "string"}},
            },
        },
    },
}
REVOKED = {"type": "object", "required": ["revoked"], "properties": {"revoked": {"type": ["integer", "string"]}}}
