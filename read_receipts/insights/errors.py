"""One JSON shape for every error the API (and the service's other JSON routes) answers."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES


class BadRequest(ValueError):
    """A request value that makes no sense, with the values that would."""

    def __init__(self, message: str, allowed: Iterable[str | int] | None = None):
        super().__init__(message)
        self.allowed = list(allowed) if allowed is not None else None


def code_of(status: int) -> str:
    """Name a status the way the error shape does: 400 is "bad_request"."""
    return re.sub(r"\W+", "_", HTTP_STATUS_CODES.get(status, "error").lower()).strip("_")


def error_response(
    status: int, message: str, *, allowed: Iterable[str | int] | None = None, headers: dict | None = None
) -> Response:
    """Answer `{"error": {"status", "code", "message"[, "allowed"]}}` with that status."""
    error: dict = {"status": status, "code": code_of(status), "message": message}
    if allowed is not None:
        error["allowed"] = list(allowed)
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def bad_request(error: BadRequest) -> Response:
    """Answer a BadRequest as a 400 naming the allowed values."""
    return error_response(400, str(error), allowed=error.allowed)


def wants_json() -> bool:
    """Whether the request is for the JSON API (pages get words; the API gets the JSON shape)."""
    return request.path.startswith("/api/")


def refusal(status: int, message: str, headers: dict | None = None) -> Response:
    """A refusal in the caller's terms: JSON under /api/, one line of text for a page."""
    if wants_json():
        return error_response(status, message.rstrip("\n"), headers=headers)
    return Response(message.rstrip("\n") + "\n", status, headers or {}, mimetype="text/plain")


def _http_error(error: HTTPException) -> Response:
    """Any HTTP error (404, 405, 413, 500 ...) in the JSON shape, keeping its headers (Allow, Retry-After)."""
    kept = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    return error_response(error.code or 500, error.description or "", headers=kept)


def init_app(app: Flask) -> None:
    """Answer every HTTP error and every BadRequest in the one shape."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(BadRequest, bad_request)
