"""Tracking links for any email, usable from your own code: sign and read links, rewrite HTML, verify webhooks.

from read_receipts.links import Tracker, rewrite_html, verify_webhook

tracker = Tracker("https://pixel.example.com", keys=("a long random secret",))
html = rewrite_html(html, tracker, {"campaign": "november"})
verify_webhook(secret, request.headers["X-Signature"], request.body)
"""

from read_receipts.links.rewriting import rewrite_html
from read_receipts.links.signatures import signature as sign_webhook
from read_receipts.links.signatures import verify as verify_webhook
from read_receipts.links.tokens import Link, MetaTooLong, TargetError, TokenError, Tracker, check_target

__all__ = [
    "Link",
    "MetaTooLong",
    "TargetError",
    "TokenError",
    "Tracker",
    "check_target",
    "rewrite_html",
    "sign_webhook",
    "verify_webhook",
]
