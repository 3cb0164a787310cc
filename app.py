"""The web layer: the app factory, the pixel and click routes, health and metrics."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings, load_settings_or_exit
from read_receipts.delivery.courier import Courier
from read_receipts.delivery.doorbell import Ringer
from read_receipts.delivery.parts import courier_for
from read_receipts.delivery.spool_drain import LossTally
from read_receipts.insights import errors, metrics
from read_receipts.insights.dashboard import board
from read_receipts.insights.dead_letters_page import dead_letters_page
from read_receipts.insights.guards import bearer_matches
from read_receipts.insights.logins import LoginGuard
from read_receipts.insights.opt_out_page import opt_out_page
from read_receipts.insights.sidebar_api import sidebar
from read_receipts.intake import pixel
from read_receipts.intake.limits import MAX_BODY, BodyLimit
from read_receipts.intake.spool import Spool
from read_receipts.links.recorder import NO_STORE, NOT_A_LINK, LinkRecorder
from read_receipts.links.tokens import Tracker
from read_receipts.operations import commands
from read_receipts.operations.courier_process import courier_runs_apart
from read_receipts.operations.startup import announce, configure_logging, prepare_store
from read_receipts.store import Stores

log = logging.getLogger("read_receipts")

# The dashboard's pages use their own inline styles and nothing else: no script, no frame, no outside resource.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def create_app(settings: Settings | None = None, *, deliver: bool = False) -> Flask:
    """Build the app; with deliver=True notes are posted: by the courier process, or by a thread of this one."""
    settings = settings or load_settings_or_exit()
    # Under gunicorn.conf.py the master prepared the store before any worker started, and the courier
    # process delivers: a worker booting later (a restart) never stops the service over the spool's disk.
    apart = deliver and courier_runs_apart()
    if deliver and not apart:  # a serving worker of another server: the store must be at this release's schema
        prepare_store(settings)
    configure_logging(settings.log_level)
    app = Flask(__name__)
    # No 308 from /c//x to /c/x: an invalid link gets a 404 page, never a redirect.
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY  # bodies sent without a length are cut here
    store = Stores(settings.database_url)
    # Each spooled record wakes the courier: its doorbell in the courier process, or this process's own.
    wake = Ringer(settings.spool_dir) if apart else threading.Event()
    lost = threading.Event()  # a record the spool could not take, for the loss tally of a worker without courier
    spool = Spool(
        settings.spool_dir, max_bytes=settings.spool_max_bytes, wake=wake, on_loss=lost.set if apart else None
    )
    courier = courier_for(settings, store, spool, wake)
    if apart:
        LossTally(store.spool, spool, lost).start()
    app.extensions.update(settings=settings, store=store, zendesk=courier.zendesk, courier=courier, spool=spool)
    tracker = _tracker(settings)
    links = LinkRecorder(spool, tracker)
    app.extensions.update(tracker=tracker, links=links, logins=LoginGuard())
    app.wsgi_app = BodyLimit(app.wsgi_app)
    # Outside the body limit: the pixel never reads a body (gunicorn discards it unkept), and always answers.
    app.wsgi_app = pixel.PixelRoute(app.wsgi_app, pixel.spooler(spool), links.open)
    if settings.proxy_hops:  # outermost, so the pixel sees the real client address
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _add_routes(app, store, courier)
    app.after_request(_security_headers)
    errors.init_app(app)
    app.register_blueprint(board)
    app.register_blueprint(dead_letters_page)
    app.register_blueprint(opt_out_page)
    app.register_blueprint(sidebar)  # the Zendesk sidebar app's JSON, and agents' addresses
    _add_click_route(app, links)
    commands.register(app)
    if deliver and not apart:
        announce(settings)
        courier.start()
    return app


def _security_headers(response: Response) -> Response:
    """Forbid framing, sniffing and any script or outside resource on every Flask answer."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _tracker(settings: Settings) -> Tracker | None:
    """The tracking-link signer, when TRACKING_KEYS are set."""
    if not settings.tracking_keys:
        return None
    return Tracker(settings.public_url, settings.tracking_keys, settings.tracking_encryption_keys)


def _add_click_route(app: Flask, links: LinkRecorder) -> None:
    """Register /c/<token>: record the click, then redirect to the signed target."""

    @app.get("/c/<path:token>")
    def click(token: str) -> Response:
        """Redirect a genuine link; anything else gets a small 404 page, never a redirect."""
        target = links.click(token, request.environ)
        if target is None:
            return Response(NOT_A_LINK, status=404, mimetype="text/html", headers=NO_STORE)
        response = redirect(target, code=302)
        response.headers.update(NO_STORE)
        return response


def _add_routes(app: Flask, store: Stores, courier: Courier) -> None:
    """Register the HTTP routes (the pixel is answered ahead of them, by pixel.PixelRoute)."""

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """Say whether the store answers, and how much waits in this instance's spool."""
        spool = courier.spool_drain.backlog(time.time())
        writable = courier.spool_drain.spool.writable()
        try:
            store.ping()
        except Exception as error:
            log.warning("health check: the store is unreachable (%s)", str(error).splitlines()[0][:200])
            # Opens still reach the spool: degraded, not failing, while the spool takes them.
            status = ("degraded", 200) if writable else ("unavailable", 503)
            return jsonify(status=status[0], store="unreachable", spool=spool), status[1]
        return jsonify(status="ok" if writable else "degraded", store="ok", spool=spool), 200

    @app.get("/metrics")
    def metrics_page() -> Response:
        """Prometheus metrics; behind a bearer token when METRICS_TOKEN is set."""
        token = app.extensions["settings"].metrics_token
        if token and not bearer_matches(token):
            return Response("metrics need the bearer token in METRICS_TOKEN\n", 401, {"WWW-Authenticate": "Bearer"})
        return Response(metrics.exposition(store, courier), mimetype=metrics.CONTENT_TYPE)

    @app.get("/")
    def index() -> Response:
        """Point a curious visitor at the service's routes."""
        return jsonify(
            service="zendesk-read-receipts", pixel="/pixel.gif?ticket_id=&requester_id=&comment_id=", health="/healthz"
        )
