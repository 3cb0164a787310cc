"""The JSON API: one error shape for every refusal, a 400 naming the allowed values, and its OpenAPI document."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from read_receipts.insights.logins import LoginGuard
from tests.test_dashboard import ADMIN, LOGIN
from tests.test_server import Service

TOKEN = {"Authorization": "Bearer " + "t" * 40}


@pytest.fixture
def api(make_app):
    return make_app(**ADMIN, API_TOKEN="t" * 40).test_client()


def error_of(answer, status: int) -> dict:
    """The error of a JSON answer, checked for its shape."""
    assert answer.status_code == status and answer.mimetype == "application/json", answer.get_data(as_text=True)
    error = answer.json["error"]
    assert error["status"] == status and error["code"] and error["message"]
    return error


@pytest.mark.parametrize(
    ("query", "message", "allowed"),
    [
        ("/api/opens?kind=human", "kind must be one of person, apple_preload", "person"),
        ("/api/events?kind=human", "kind must be one of open, click", "click"),
        ("/api/opens?state=read", "state must be one of new, noted", "counted"),
        ("/api/opens?format=xml", "format must be one of json, csv", "csv"),
        ("/api/opens?kinds=person", "unknown parameter 'kinds'", "kind"),
        ("/api/summary?limit=5", "unknown parameter 'limit'", "from"),
    ],
)
def test_nonsense_gets_a_400_naming_the_allowed_values(api, query, message, allowed):
    error = error_of(api.get(query, headers=TOKEN), 400)
    assert error["code"] == "bad_request" and error["message"].startswith(message) and allowed in error["allowed"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("/api/opens?limit=5000", "limit must be from 1 to 1000 (got 5000)"),
        ("/api/opens?limit=0", "limit must be from 1 to 1000 (got 0)"),
        ("/api/opens?ticket_id=abc", "ticket_id must be a whole number (got 'abc')"),
        ("/api/opens?since=monday", "since must be an ISO 8601 date or time"),
        ("/api/summary?from=2024-01-01&to=2026-01-01", "a range is at most 366 days: 2024-01-01 to 2026-01-01"),
        ("/api/summary?from=nope", "from must be a date such as 2026-11-22 (got 'nope')"),
    ],
)
def test_out_of_range_values_are_refused_not_clamped(api, query, message):
    assert error_of(api.get(query, headers=TOKEN), 400)["message"].startswith(message)


def test_refusals_under_api_are_json(api, make_app):
    unauthenticated = api.get("/api/opens")
    error = error_of(unauthenticated, 401)
    assert error["code"] == "unauthorized" and "Basic" in unauthenticated.headers["WWW-Authenticate"]
    assert error_of(api.get("/api/nothing-here", headers=TOKEN), 404)["code"] == "not_found"
    wrong_method = api.delete("/api/opens", headers=TOKEN)
    assert error_of(wrong_method, 405)["code"] == "method_not_allowed" and "GET" in wrong_method.headers["Allow"]
    too_big = api.post("/api/erasure", data=b"x" * (2 * 1024 * 1024), headers=TOKEN)
    assert error_of(too_big, 413)["code"] == "request_entity_too_large"
    off = make_app().test_client()
    assert error_of(off.get("/api/opens"), 404)["message"].startswith("the dashboard is off")
    # the page keeps its browser's plain-text login prompt
    page = api.get("/dashboard")
    assert page.status_code == 401 and page.mimetype == "text/plain"


def test_repeated_failed_logins_get_a_json_429(api):
    wrong = {"Authorization": "Basic " + base64.b64encode(b"lead:wrong").decode()}
    for _ in range(5):
        error_of(api.get("/api/opens", headers=wrong), 401)
    refused = api.get("/api/opens", headers=LOGIN)
    assert error_of(refused, 429)["code"] == "too_many_requests" and int(refused.headers["Retry-After"]) > 0


def test_openapi_document_lists_every_api_route(api):
    document = api.get("/api/openapi.json").json
    assert document["openapi"] == "3.1.0"
    rules = [rule.rule for rule in api.application.url_map.iter_rules() if rule.rule.startswith("/api/")]
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule) for rule in rules}  # Flask's <int:id> is OpenAPI's {id}
    assert set(document["paths"]) == routes
    kinds = next(p for p in document["paths"]["/api/opens"]["get"]["parameters"] if p["name"] == "kind")
    assert "apple_preload" in kinds["schema"]["enum"]


def test_the_api_answers_as_its_openapi_document_says(make_app, zendesk):
    """Property-based: generated requests to every operation get documented answers in their schema, never a 500."""
    app = make_app(**ADMIN, API_TOKEN="t" * 40)
    app.test_client().get("/pixel.gif?ticket_id=42&requester_id=7&comment_id=1")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.label for operation in operations} >= {"GET /api/opens", "GET /api/events", "POST /api/erasure"}

    for operation in operations:
        # "at most 366 days" ties `from` to `to`: no JSON Schema says it, so a valid-looking pair may get its 400.
        excluded = [positive_data_acceptance] if operation.label == "GET /api/summary" else []
        answers_as_documented(app, operation, excluded)()


def answers_as_documented(app, operation, excluded: list):
    """A Hypothesis test of one operation: generated requests, each answer checked against the document."""

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        # Each case from a fresh count of failed logins: its invalid-login probe must get the 401.
        app.extensions["logins"] = LoginGuard()
        case.call_and_validate(headers=TOKEN, excluded_checks=excluded)

    return check


def test_the_readmes_error_examples_are_what_the_api_answers(api):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Dashboard and API", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(
        r'curl -s (?:-H "Authorization: Bearer \$API_TOKEN" )?"https://pixel\.example\.com(\S+)"\n# (.+)', section
    )
    assert len(examples) == 2
    for path, shown in examples:
        headers = TOKEN if "kind=" in path else {}
        assert api.get(path, headers=headers).json == json.loads(shown), path


@pytest.mark.server
def test_the_served_api_answers_nonsense_and_strangers_in_json(zendesk, sqlite_url, tmp_path):
    """Through the Procfile's gunicorn: a stranger's 401, a 400 naming the kinds, the 366-day limit, the document."""
    service = Service(tmp_path, {"DATABASE_URL": sqlite_url, **zendesk.env(), **ADMIN, "API_TOKEN": "t" * 40}).start()
    try:
        stranger = requests.get(f"{service.url}/api/opens", timeout=5)
        assert stranger.status_code == 401 and stranger.headers["Content-Type"] == "application/json"
        assert stranger.json()["error"]["code"] == "unauthorized"
        human = requests.get(f"{service.url}/api/opens?kind=human", headers=TOKEN, timeout=5).json()["error"]
        assert human["status"] == 400 and human["allowed"] == [
            "person",
            "apple_preload",
            "gmail_prefetch",
            "scanner",
            "agent",
            "bot",
        ]
        clamped = requests.get(f"{service.url}/api/opens?limit=5000", headers=TOKEN, timeout=5)
        assert (
            clamped.status_code == 400
            and clamped.json()["error"]["message"] == "limit must be from 1 to 1000 (got 5000)"
        )
        year = requests.get(f"{service.url}/api/summary?from=2025-01-01&to=2026-06-30", headers=TOKEN, timeout=5)
        assert year.json()["error"]["message"] == "a range is at most 366 days: 2025-01-01 to 2026-06-30 is 546 days"
        page = requests.get(
            f"{service.url}/dashboard?from=2025-01-01&to=2026-06-30", auth=("lead", ADMIN["ADMIN_PASSWORD"]), timeout=5
        )
        assert page.status_code == 200 and "is 546 days, more than the 366 days shown at once" in page.text
        assert requests.get(f"{service.url}/api/openapi.json", timeout=5).json()["openapi"] == "3.1.0"
    finally:
        service.kill()
