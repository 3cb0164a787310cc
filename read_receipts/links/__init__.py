"""Tracking links for any email, usable from your own code: sign and read links, rewrite HTML, verify webhooks.

from read_receipts.links import Tracker, prepare_html, rewrite_html, verify_webhook

tracker = Tracker("https://pixel.example.com", keys=("a long random secret of 32 characters or more",))
html = rewrite_html(html, tracker, {"campaign": "november"})
template = prepare_html(html)  # a campaign: parsed once, then one signed copy per recipient
copies = [template.render(tracker, {"campaign": "november", "recipient": r}) for r in recipients]
verify_webhook(secret, request.headers["X-Signature"], request.body)
"""

from read_receipts.links.rewriting import Template, prepare_html, rewrite_html
from read_receipts.links.signatures import signature as sign_webhook
from read_receipts.links.signatures import verify as verify_webhook
from read_receipts.links.tokens import (
    CopyLinks,
    Link,
    MetaTooLong,
    Target,
    TargetError,
    TokenError,
    Tracker,
    check_target,
)

__all__ = [
    "CopyLinks",
    "Link",
    "MetaTooLong",
    "Target",
    "TargetError",
    "Template",
    "TokenError",
    "Tracker",
    "check_target",
    "prepare_html",
    "rewrite_html",
    "sign_webhook",
    "verify_webhook",
]
