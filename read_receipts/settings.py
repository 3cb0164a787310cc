"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from dotenv import load_dotenv

from read_receipts import setting_values as values
from read_receipts.setting_values import ConfigError

__all__ = ["SETTINGS", "ConfigError", "Setting", "Settings", "load_settings", "load_settings_or_exit"]


@dataclass(frozen=True)
class Setting:
    """One documented environment variable."""

    name: str
    default: str
    help: str


# Every variable the service reads, declared once. README and .env.example are
# tested against this list so the docs cannot drift from the code.
SETTINGS = (
    Setting("ZENDESK_SUBDOMAIN", "", "Your Zendesk subdomain: `acme` for acme.zendesk.com."),
    Setting("ZENDESK_EMAIL", "", "Email of the agent the API token belongs to."),
    Setting("ZENDESK_API_TOKEN", "", "Zendesk API token (Admin Center > Apps and integrations > Zendesk API)."),
    Setting("ZENDESK_OAUTH_TOKEN", "", "OAuth bearer token, instead of ZENDESK_EMAIL + ZENDESK_API_TOKEN."),
    Setting("ZENDESK_URL", "", "API base URL; default `https://{ZENDESK_SUBDOMAIN}.zendesk.com`."),
    Setting("ZENDESK_TIMEOUT", "10", "Seconds to wait for a Zendesk answer before retrying later."),
    Setting(
        "ZENDESK_UPDATES_PER_MINUTE",
        "50",
        "Notes posted per minute, for the whole account (Zendesk allows 100, shared with agents).",
    ),
    Setting("ZENDESK_UPDATES_PER_TICKET", "10", "Notes posted per ticket per 10 minutes (Zendesk allows 30)."),
    Setting("ZENDESK_REQUESTS_PER_MINUTE", "100", "All Zendesk API calls per minute, for the whole account."),
    Setting(
        "CHECK_BUDGET_SHARE",
        "0.5",
        "Share of ZENDESK_REQUESTS_PER_MINUTE that checks of tickets not seen before may use, so notes flow during a flood.",
    ),
    Setting(
        "UNCHECKED_OPEN_TTL_HOURS",
        "24",
        "Opens whose ticket could not be checked within this many hours expire (forged ids do not pile up).",
    ),
    Setting(
        "DATABASE_URL",
        "sqlite:///read_receipts.db",
        "SQLite file, or `postgresql://...` for several instances sharing one store.",
    ),
    Setting(
        "DATABASE_AUTO_UPGRADE",
        "true",
        "Upgrade the database's schema at start-up, once, under a lock; false: run `flask --app app db upgrade` when deploying.",
    ),
    Setting(
        "SPOOL_DIR",
        "",
        "Directory on the instance's own disk where the pixel spools opens until they are stored; default `<SQLite file>-spool` beside a SQLite store, else `spool` in the working directory.",
    ),
    Setting("PORT", "8000", "Port gunicorn binds (set by Procfile hosts)."),
    Setting("WEB_CONCURRENCY", "2", "Number of gunicorn worker processes."),
    Setting(
        "PUBLIC_URL",
        "",
        "Address mail clients reach, e.g. `https://pixel.example.com`; default `http://localhost:$PORT`.",
    ),
    Setting("PROXY_HOPS", "0", "How many proxies in front of the service set X-Forwarded-For."),
    Setting("VERIFY_REQUESTER", "true", "Note an open only when ticket_id and requester_id match in Zendesk."),
    Setting("NOTE_TIMEZONE", "UTC", "Time zone of the times written in notes, e.g. `Europe/Paris`."),
    Setting(
        "DISPLAY_TIMEZONE",
        "",
        "Time zone of the times the dashboard shows, e.g. `Europe/Paris`; default NOTE_TIMEZONE.",
    ),
    Setting("NOTE_TAG", "", "Tag added to a ticket with each note (e.g. `reply_opened`); empty for none."),
    Setting(
        "NOTE_INTERVAL_MINUTES", "60", "Repeat opens of one reply are summarised in at most one note per interval."
    ),
    Setting(
        "NOTE_KINDS",
        "person,apple_preload",
        "Kinds of load that get a note: person, apple_preload, gmail_prefetch, scanner, bot.",
    ),
    Setting(
        "IGNORE_IPS",
        "",
        "Addresses and CIDR ranges of your offices and VPN, comma-separated: stored as agents' loads, never noted.",
    ),
    Setting(
        "TRACKING_KEYS",
        "",
        "Secrets that sign tracking links, comma-separated, newest first (at least 32 characters each); empty turns /o/ and /c/ off.",
    ),
    Setting(
        "TRACKING_ENCRYPTION_KEYS",
        "",
        "Fernet keys, comma-separated, newest first: tracking links are then encrypted, not only signed.",
    ),
    Setting("WEBHOOK_URLS", "", "Receivers of every open and click, comma-separated https URLs."),
    Setting(
        "WEBHOOK_SECRET", "", "Secret that signs webhook calls (at least 32 characters); needed with WEBHOOK_URLS."
    ),
    Setting(
        "IP_STORAGE",
        "truncated",
        "How client addresses are kept once an open is labelled: truncated (/24, /48), full or none.",
    ),
    Setting(
        "RETENTION_DAYS",
        "180",
        "Opens, clicks and deliveries older than this are deleted by the running service; 0 keeps them.",
    ),
    Setting(
        "OPT_OUT_TAG",
        "no_read_receipts",
        "Tickets with this tag are not tracked (checked with the requester); empty for none.",
    ),
    Setting("OPT_OUT_REQUESTERS", "", "Zendesk user ids, comma-separated, who are never tracked."),
    Setting(
        "ADMIN_USER", "", "User name for the dashboard and the API; without it and ADMIN_PASSWORD the dashboard is off."
    ),
    Setting("ADMIN_PASSWORD", "", "Password for the dashboard and the API (at least 12 characters)."),
    Setting(
        "ZENDESK_WEBHOOK_SECRET",
        "",
        "Signing secret of the Zendesk webhook that reports replies sent (POST /zendesk/replies).",
    ),
    Setting(
        "API_TOKEN", "", "Bearer token for the JSON API (/api/...), besides the dashboard login; empty: login only."
    ),
    Setting(
        "METRICS_TOKEN", "", "Bearer token /metrics asks for; empty leaves /metrics open (keep it off the internet)."
    ),
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
)


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one service instance."""

    database_url: str = field(repr=False)
    public_url: str
    spool_dir: str = "spool"
    auto_upgrade: bool = True
    zendesk_url: str = ""
    zendesk_auth: str = field(default="", repr=False)
    zendesk_timeout: float = 10.0
    updates_per_minute: int = 50
    updates_per_ticket: int = 10
    requests_per_minute: int = 100
    check_budget_share: float = 0.5
    unchecked_open_ttl: float = 86400.0
    proxy_hops: int = 0
    verify_requester: bool = True
    note_timezone: str = "UTC"
    display_timezone: str = "UTC"
    note_tag: str = ""
    note_interval: float = 3600.0
    note_kinds: tuple[str, ...] = ("person", "apple_preload")
    ignore_ips: tuple[str, ...] = ()
    tracking_keys: tuple[str, ...] = field(default=(), repr=False)
    tracking_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = field(default="", repr=False)
    metrics_token: str = field(default="", repr=False)
    api_token: str = field(default="", repr=False)
    admin_user: str = ""
    admin_password: str = field(default="", repr=False)
    zendesk_webhook_secret: str = field(default="", repr=False)
    zendesk_subdomain: str = ""
    opt_out_tag: str = "no_read_receipts"
    opt_out_requesters: frozenset[int] = frozenset()
    ip_storage: str = "truncated"
    retention_days: float = 180.0
    log_level: str = "INFO"

    @property
    def dry_run(self) -> bool:
        """Whether notes are only logged, for lack of Zendesk credentials."""
        return not self.zendesk_auth


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; with no mapping, use `.env` and os.environ."""
    if environ is None:
        load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
        environ = os.environ
    env = {s.name: environ.get(s.name, "").strip() or s.default for s in SETTINGS}
    auth = values.zendesk_auth(env)
    return Settings(
        database_url=values.database_url(env["DATABASE_URL"]),
        spool_dir=values.spool_dir(env["SPOOL_DIR"], env["DATABASE_URL"]),
        public_url=values.public_url(env),
        auto_upgrade=values.flag(env, "DATABASE_AUTO_UPGRADE"),
        zendesk_url=values.zendesk_url(env) if auth else "",
        zendesk_auth=auth,
        zendesk_timeout=values.number(env, "ZENDESK_TIMEOUT", 1, 60),
        updates_per_minute=int(values.number(env, "ZENDESK_UPDATES_PER_MINUTE", 1, 300)),
        updates_per_ticket=int(values.number(env, "ZENDESK_UPDATES_PER_TICKET", 1, 30)),
        requests_per_minute=int(values.number(env, "ZENDESK_REQUESTS_PER_MINUTE", 1, 2500)),
        check_budget_share=values.number(env, "CHECK_BUDGET_SHARE", 0.05, 1),
        unchecked_open_ttl=3600 * values.number(env, "UNCHECKED_OPEN_TTL_HOURS", 0.1, 24 * 365),
        proxy_hops=int(values.number(env, "PROXY_HOPS", 0, 5)),
        verify_requester=values.flag(env, "VERIFY_REQUESTER"),
        note_timezone=values.timezone(env["NOTE_TIMEZONE"]),
        display_timezone=values.timezone(env["DISPLAY_TIMEZONE"] or env["NOTE_TIMEZONE"], "DISPLAY_TIMEZONE"),
        note_tag=values.tag(env["NOTE_TAG"]),
        note_interval=60 * values.number(env, "NOTE_INTERVAL_MINUTES", 1, 7 * 24 * 60),
        note_kinds=values.note_kinds(env["NOTE_KINDS"]),
        ignore_ips=values.networks(env["IGNORE_IPS"]),
        tracking_keys=values.signing_keys(env["TRACKING_KEYS"]),
        tracking_encryption_keys=values.fernet_keys(env["TRACKING_ENCRYPTION_KEYS"]),
        webhook_urls=values.webhook_urls(env["WEBHOOK_URLS"]),
        webhook_secret=values.webhook_secret(env),
        metrics_token=values.long_secret(env, "METRICS_TOKEN"),
        api_token=values.api_token(env["API_TOKEN"]),
        admin_user=env["ADMIN_USER"],
        admin_password=values.admin_password(env),
        zendesk_webhook_secret=values.long_secret(env, "ZENDESK_WEBHOOK_SECRET"),
        zendesk_subdomain=values.subdomain(env["ZENDESK_SUBDOMAIN"]),
        opt_out_tag=values.tag(env["OPT_OUT_TAG"], "OPT_OUT_TAG"),
        opt_out_requesters=values.user_ids(env["OPT_OUT_REQUESTERS"]),
        ip_storage=values.ip_storage(env["IP_STORAGE"]),
        retention_days=values.number(env, "RETENTION_DAYS", 0, 36500),
        log_level=values.log_level(env["LOG_LEVEL"]),
    )


def load_settings_or_exit() -> Settings:
    """Load settings, or stop the process with a message that says how to fix them."""
    try:
        return load_settings()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr, flush=True)
        # 4 is gunicorn's "app failed to load": it stops instead of respawning workers.
        raise SystemExit(4) from None
