"""The baseline: a plain WSGI callable that answers the pixel's bytes and headers, and does nothing else."""

from __future__ import annotations

from read_receipts.intake import pixel

_STATUS = "200 OK"
_HEADERS = list(pixel.HEADERS.items())
_BODY = [pixel.GIF]


def app(environ, start_response):
    """Answer every request with the tracking GIF."""
    start_response(_STATUS, _HEADERS)
    return _BODY
