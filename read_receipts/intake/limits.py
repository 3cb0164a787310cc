"""The request size limit, checked before any route reads a byte of the body."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

MAX_BODY = 1024 * 1024  # the largest body any route takes (API calls and webhooks are a few KiB)

_TOO_LARGE = json.dumps(
    {
        "error": {
            "status": 413,
            "code": "request_entity_too_large",
            "message": f"request bodies are limited to {MAX_BODY} bytes",
        }
    }
)
_HEADERS = [
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(_TOO_LARGE))),
    ("Connection", "close"),  # for servers that honour it; gunicorn discards the unread body, keeping none of it
]


class BodyLimit:
    """Answer 413 to a request that announces a body over MAX_BODY, on every route.

    Bodies sent without a length (chunked) are cut by Flask's MAX_CONTENT_LENGTH
    when a route reads them; the pixel never reads one.
    """

    def __init__(self, app: Callable, limit: int = MAX_BODY):
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if length and (not length.isdigit() or int(length) > self.limit):
            start_response("413 REQUEST ENTITY TOO LARGE", _HEADERS)
            return [_TOO_LARGE.encode()]
        return self.app(environ, start_response)
