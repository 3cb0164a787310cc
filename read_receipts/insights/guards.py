"""Who may see the dashboard and the API: the admin login, or the API's bearer token."""

from __future__ import annotations

import functools
import hmac
from urllib.parse import urlsplit

from flask import Response, current_app, request

from read_receipts.insights.errors import refusal

LOG_IN = {"WWW-Authenticate": 'Basic realm="read receipts", charset="UTF-8"'}


def bearer_matches(token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (compared in constant time)."""
    offered = request.headers.get("Authorization", "")
    return (
        bool(token)
        and offered.startswith("Bearer ")
        and hmac.compare_digest(offered.removeprefix("Bearer ").encode(), token.encode())
    )


def refused(api: bool) -> Response | None:
    """None when the request may go on; otherwise the refusal (404 when the feature is off)."""
    settings = current_app.extensions["settings"]
    if not (settings.admin_user and settings.admin_password) and not (api and settings.api_token):
        return refusal(404, "the dashboard is off: set ADMIN_USER and ADMIN_PASSWORD")
    if api and bearer_matches(settings.api_token):
        return None
    auth = request.authorization
    if auth is None or auth.type != "basic" or not settings.admin_password:
        return log_in(api)
    logins, address = current_app.extensions["logins"], request.remote_addr or "unknown"
    wait = logins.wait_for(address)
    if wait:
        return refusal(429, "too many failed logins: wait and try again", {"Retry-After": str(int(wait) + 1)})
    user_ok = hmac.compare_digest((auth.username or "").encode(), settings.admin_user.encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(), settings.admin_password.encode())
    if user_ok and password_ok:
        logins.succeeded(address)
        return None
    logins.failed(address, auth.username or "")
    return log_in(api)


def log_in(api: bool) -> Response:
    """Ask for the dashboard login (or, for the API, the login or its token)."""
    message = "log in with the dashboard login, or send Authorization: Bearer <API_TOKEN>" if api else "log in"
    return refusal(401, message, LOG_IN)


def login_required(api: bool):
    """Refuse a view to anyone without the dashboard login (or, for the API, its token)."""

    def wrap(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            return refused(api) or view(*args, **kwargs)

        return guarded

    return wrap


def same_origin() -> bool:
    """Whether a form was posted from this service's own pages: every sign the browser sent says so.

    Sec-Fetch-Site, when sent, must be same-origin (or none: typed or bookmarked); Origin, else
    Referer, must name this host; a post with none of them is refused.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source:
        return urlsplit(source).netloc == request.host
    return site is not None
