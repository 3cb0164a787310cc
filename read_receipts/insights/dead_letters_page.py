"""The dashboard's page of dead letters: the rows the courier set aside, to retry or delete."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request

from read_receipts.insights.dashboard import _login
from read_receipts.store.dead_letters import DEAD_KINDS

dead_letters_page = Blueprint("dead_letters", __name__, template_folder="templates")


@dead_letters_page.get("/dashboard/dead-letters")
@_login(api=False)
def list_page():
    """List the dead rows of every kind, with their errors."""
    store = current_app.extensions["store"]
    return render_template("dead_letters.html", rows=store.dead_letters.listing(), counts=store.dead_letters.counts())


@dead_letters_page.post("/dashboard/dead-letters/<kind>/<int:row_id>/<action>")
@_login(api=False)
def act(kind: str, row_id: int, action: str):
    """Retry or delete one dead row."""
    if not _same_origin():  # a login the browser sends by itself must not be usable from another site
        return Response("cross-site request refused\n", 403, mimetype="text/plain")
    if kind not in DEAD_KINDS or action not in ("retry", "delete"):
        return Response("not found\n", 404, mimetype="text/plain")
    store = current_app.extensions["store"]
    if action == "retry":
        store.dead_letters.retry(kind, [row_id], time.time())
        current_app.extensions["courier"].wake.set()
    else:
        store.dead_letters.delete(kind, [row_id])
    return redirect("/dashboard/dead-letters", 303)


def _same_origin() -> bool:
    """Whether the form was posted from this service's own pages (Origin, else Referer, names this host)."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(source) and urlsplit(source).netloc == request.host
