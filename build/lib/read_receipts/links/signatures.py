"""Webhook signatures: how this service signs each call, and how a receiver checks one.

`X-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, with the shared WEBHOOK_SECRET.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Signature header value for one call."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300.0, now: float | None = None) -> bool:
    """Check a call's X-Signature as a receiver should: constant-time, and recent."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
