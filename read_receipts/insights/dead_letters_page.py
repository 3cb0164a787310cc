"""The dashboard's page of dead letters: the rows the courier set aside, to retry or delete."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, redirect, render_template

from read_receipts.insights.guards import login_required, same_origin
from read_receipts.store.dead_letters import DEAD_KINDS

dead_letters_page = Blueprint("dead_letters", __name__, template_folder="templates")


@dead_letters_page.get("/dashboard/dead-letters")
@login_required(api=False)
def list_page():
    """List the dead rows of every kind, with their errors."""
    store = current_app.extensions["store"]
    rows, counts = store.dead_letters.listing(), store.dead_letters.counts()
    return render_template("dead_letters.html", page="dead-letters", rows=rows, counts=counts)


@dead_letters_page.post("/dashboard/dead-letters/<kind>/<int:row_id>/<action>")
@login_required(api=False)
def act(kind: str, row_id: int, action: str):
    """Retry or delete one dead row."""
    if not same_origin():  # a login the browser sends by itself must not be usable from another site
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
