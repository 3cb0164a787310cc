"""Settings from the environment and `.env`: each declared once, checked once per service start or reload."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from dotenv import dotenv_values

from read_receipts import setting_values as values
from read_receipts.setting_values import ConfigError

__all__ = [
    "SETTINGS",
    "ConfigError",
    "Setting",
    "Settings",
    "hand_down",
    "load_settings",
    "load_settings_or_exit",
    "read_environment",
]

# A parser reads its variable from the whole environment (defaults filled in): a few read others too.
Parser = Callable[[Mapping[str, str], str], Any]


@dataclass(frozen=True)
class Setting:
    """One documented environment variable: its default and help, and the Settings field its parser fills."""

    name: str
    default: str
    help: str
    parse: Parser | None = None  # None: read by another setting's parser (or by the Procfile) only
    field: str = ""  # the Settings field; default: the name in lower case
    type: Any = str
    secret: bool = False  # kept out of the settings' repr, so out of logs and tracebacks

    @property
    def attribute(self) -> str:
        """The name of the Settings field this variable fills."""
        return self.field or self.name.lower()


def _bounded(low: float, high: float, scale: float = 1, whole: bool = False) -> Parser:
    """A parser of a number from low to high, multiplied by scale (minutes to seconds, say)."""

    def parse(env: Mapping[str, str], name: str) -> float | int:
        value = scale * values.number(env, name, low, high)
        return int(value) if whole else value

    return parse


def _of_value(parser: Callable[[str], Any]) -> Parser:
    """A parser that needs only its own variable's value."""
    return lambda env, name: parser(env[name])


_plain = _of_value(str)
_flag = values.flag
_secret = values.long_secret

# Every variable the service reads, declared once. The Settings dataclass is derived from it, and the
# README's table and .env.example are tested against it, so the docs cannot drift from the code.
# fmt: off
SETTINGS = (
    Setting("ZENDESK_SUBDOMAIN", "",
            "Your Zendesk subdomain: `acme` for acme.zendesk.com.",
            _of_value(values.subdomain)),
    Setting("ZENDESK_EMAIL", "",
            "Email of the agent the API token belongs to."),
    Setting("ZENDESK_API_TOKEN", "",
            "Zendesk API token (Admin Center > Apps and integrations > Zendesk API)."),
    Setting("ZENDESK_OAUTH_TOKEN", "",
            "OAuth bearer token, instead of ZENDESK_EMAIL + ZENDESK_API_TOKEN.",
            # The Authorization header, from this token or ZENDESK_EMAIL + ZENDESK_API_TOKEN ('' for a dry run).
            lambda env, name: values.zendesk_auth(env), field="zendesk_auth", secret=True),
    Setting("ZENDESK_URL", "",
            "API base URL; default `https://{ZENDESK_SUBDOMAIN}.zendesk.com`. Must be https (plain http only for localhost).",
            lambda env, name: values.zendesk_url(env) if values.zendesk_auth(env) else ""),
    Setting("ZENDESK_TIMEOUT", "10",
            "Seconds to wait for a Zendesk answer before retrying later.",
            _bounded(1, 60), type=float),
    Setting("ZENDESK_UPDATES_PER_MINUTE", "50",
            "Notes posted per minute, for the whole account (Zendesk allows 100, shared with agents).",
            _bounded(1, 300, whole=True), field="updates_per_minute", type=int),
    Setting("ZENDESK_UPDATES_PER_TICKET", "10",
            "Notes posted per ticket per 10 minutes (Zendesk allows 30).",
            _bounded(1, 30, whole=True), field="updates_per_ticket", type=int),
    Setting("ZENDESK_REQUESTS_PER_MINUTE", "100",
            "All Zendesk API calls per minute, for the whole account.",
            _bounded(1, 2500, whole=True), field="requests_per_minute", type=int),
    Setting("CHECK_BUDGET_SHARE", "0.5",
            "Share of ZENDESK_REQUESTS_PER_MINUTE that checks of tickets not seen before may use, so notes flow during a flood.",
            _bounded(0.05, 1), type=float),
    Setting("UNCHECKED_OPEN_TTL_HOURS", "24",
            "Opens whose ticket could not be checked within this many hours expire (forged ids do not pile up).",
            _bounded(0.1, 24 * 365, scale=3600), field="unchecked_open_ttl", type=float),  # in seconds
    Setting("DATABASE_URL", "sqlite:///read_receipts.db",
            "SQLite file, or `postgresql://...` for several instances sharing one store.",
            _of_value(values.database_url), secret=True),
    Setting("DATABASE_AUTO_UPGRADE", "true",
            "Upgrade the database's schema at start-up, once, under a lock; `false`: run `flask --app app db upgrade` when deploying (see [Upgrading](#upgrading)).",
            _flag, field="auto_upgrade", type=bool),
    Setting("SPOOL_DIR", "",
            "Directory on the instance's own disk where the pixel spools opens until they are stored; empty: `<SQLite file>-spool` beside a SQLite store, else `spool` in the working directory (see [The spool](#the-spool-opens-survive-a-database-outage)).",
            lambda env, name: values.spool_dir(env[name], env["DATABASE_URL"])),
    Setting("LOCAL_RANGES_DIR", "local-ranges",
            "Directory of your own address ranges, added to the shipped ones by `flask --app app refresh-ranges` (see [Honest labels](#honest-labels-a-person-reading-or-a-machine-loading)); the shipped files are never written.",
            _plain),
    Setting("SPOOL_MAX_MB", "1024",
            "The most the spool may hold, in MB, while the store does not take its opens; past it opens are counted as lost (see [The spool](#the-spool-opens-survive-a-database-outage)).",
            _bounded(1, 10**6, scale=2**20, whole=True), field="spool_max_bytes", type=int),
    Setting("PORT", "8000",
            "Port gunicorn binds (set by Procfile hosts)."),
    Setting("WEB_CONCURRENCY", "2",
            "Number of gunicorn worker processes."),
    Setting("PUBLIC_URL", "",
            "Address mail clients reach, e.g. `https://pixel.example.com`; default `http://localhost:$PORT`.",
            lambda env, name: values.public_url(env)),
    Setting("PROXY_HOPS", "0",
            "How many proxies in front of the service set X-Forwarded-For.",
            _bounded(0, 5, whole=True), type=int),
    Setting("VERIFY_REQUESTER", "true",
            "Note an open only when ticket_id and requester_id match in Zendesk.",
            _flag, type=bool),
    Setting("NOTE_TIMEZONE", "UTC",
            "Time zone of the times written in notes, e.g. `Europe/Paris`.",
            _of_value(values.timezone)),
    Setting("NOTE_LANGUAGE", "en",
            "Language of the notes and of their dates: `en`, `de`, or one with a region, e.g. `en_GB` (see [Notes in your language](#notes-in-your-language)).",
            _of_value(values.note_language)),
    Setting("DISPLAY_TIMEZONE", "",
            "Time zone of the times the dashboard shows, e.g. `Europe/Paris`; default NOTE_TIMEZONE.",
            lambda env, name: values.timezone(env[name] or env["NOTE_TIMEZONE"], name)),
    Setting("NOTE_TAG", "",
            "Tag added to a ticket with each note telling of a person's read (e.g. `reply_opened`); empty for none.",
            values.tag),
    Setting("PRELOAD_TAG", "",
            "Tag added with each note telling only of Apple Mail's privacy preloads (e.g. `reply_preloaded`); empty for none.",
            values.tag),
    Setting("NOTE_INTERVAL_MINUTES", "60",
            "Repeat opens of one reply are summarised in at most one note per interval.",
            _bounded(1, 7 * 24 * 60, scale=60), field="note_interval", type=float),  # in seconds
    Setting("NOTE_KINDS", "person,apple_preload",
            "Kinds of load that get a note: person, apple_preload, gmail_prefetch, scanner, bot.",
            _of_value(values.note_kinds), type=tuple[str, ...]),
    Setting("UNOPENED_AFTER_HOURS", "24",
            "Hours after which a reply no person has read tags its ticket with UNOPENED_TAG (a read takes the tag away); 0 for off.",
            _bounded(0, 24 * 365, scale=3600), field="unopened_after", type=float),  # in seconds
    Setting("UNOPENED_TAG", "reply_unopened",
            "Tag of tickets with a reply no person has read in UNOPENED_AFTER_HOURS (see [Replies not opened](#replies-not-opened)); empty for none.",
            values.tag),
    Setting("READ_FIELD_ID", "",
            "Id of a Zendesk ticket field (date or text) set to the date of the latest read by a person; empty for none.",
            _of_value(values.field_id), type=int),
    Setting("IGNORE_IPS", "",
            "Addresses and CIDR ranges of your offices and VPN, comma-separated: stored as agents' loads, never noted.",
            _of_value(values.networks), type=tuple[str, ...]),
    Setting("AGENT_LEARNING", "true",
            "Learn agents' addresses from the Zendesk sidebar app (their loads are then `agent`, never noted); `false` stops it (see [The Zendesk sidebar app](#the-zendesk-sidebar-app)).",
            _flag, type=bool),
    Setting("AGENT_ADDRESS_DAYS", "30",
            "Days a learned agent address is kept after the agent was last seen there.",
            _bounded(1, 3650), type=float),
    Setting("TRACKING_KEYS", "",
            "Secrets that sign tracking links, comma-separated, newest first (at least 32 characters each); empty turns `/o/` and `/c/` off.",
            _of_value(values.signing_keys), type=tuple[str, ...], secret=True),
    Setting("TRACKING_ENCRYPTION_KEYS", "",
            "Fernet keys, comma-separated, newest first: tracking links are then encrypted, not only signed.",
            _of_value(values.fernet_keys), type=tuple[str, ...], secret=True),
    Setting("WEBHOOK_URLS", "",
            "Receivers of every open and click, comma-separated https URLs.",
            _of_value(values.webhook_urls), type=tuple[str, ...]),
    Setting("WEBHOOK_SECRET", "",
            "Secret that signs webhook calls (at least 32 characters); needed with WEBHOOK_URLS.",
            lambda env, name: values.webhook_secret(env), secret=True),
    Setting("WEBHOOK_BATCH_SIZE", "1",
            "Most events per webhook POST (a JSON array when above 1); 1 posts each event alone.",
            _bounded(1, 1000, whole=True), field="webhook_batch_size", type=int),
    Setting("IP_STORAGE", "truncated",
            "How client addresses are kept once an open is labelled: truncated (/24, /48), full or none.",
            _of_value(values.ip_storage)),
    Setting("KEEP_USER_AGENT", "true",
            "false: once an open is labelled, keep its kind and client but not its User-Agent.",
            _flag, type=bool),
    Setting("RETENTION_DAYS", "180",
            "Opens, clicks and deliveries older than this are deleted by the running service; 0 keeps them.",
            _bounded(0, 36500), type=float),
    Setting("OPT_OUT_TAG", "no_read_receipts",
            "Tickets with this tag are not tracked (checked with the requester); empty for none.",
            values.tag),
    Setting("OPT_OUT_REQUESTERS", "",
            "Zendesk user ids, comma-separated, who are never tracked.",
            _of_value(values.user_ids), type=frozenset[int]),
    Setting("ADMIN_USER", "",
            "User name for the dashboard and the API; without it and ADMIN_PASSWORD the dashboard is off.",
            _plain),
    Setting("ADMIN_PASSWORD", "",
            "Password for the dashboard and the API (at least 12 characters).",
            lambda env, name: values.admin_password(env), secret=True),
    Setting("ZENDESK_WEBHOOK_SECRET", "",
            "Signing secret of the Zendesk webhook that reports replies sent (POST /zendesk/replies).",
            _secret, secret=True),
    Setting("API_TOKEN", "",
            "Bearer token for the JSON API (`/api/...`), besides the dashboard login; empty: login only.",
            _of_value(values.api_token), secret=True),
    Setting("METRICS_TOKEN", "",
            "Bearer token /metrics asks for; empty leaves /metrics open (keep it off the internet).",
            _secret, secret=True),
    Setting("COURIER_STALL_SECONDS", "120",
            "/healthz says delivery is stalled when the courier finished no round for this long.",
            _bounded(5, 3600), field="courier_stall_seconds", type=float),
    Setting("LOG_LEVEL", "INFO",
            "DEBUG, INFO, WARNING or ERROR.",
            _of_value(values.log_level)),
)
# fmt: on

_DEFAULTS = {setting.name: setting.default for setting in SETTINGS}


def _dry_run(self) -> bool:
    """Whether notes are only logged, for lack of Zendesk credentials."""
    return not self.zendesk_auth


# The validated configuration of one service instance: one field per setting with a parser, its default
# the parsed default of the declaration above.
Settings = make_dataclass(
    "Settings",
    [
        (s.attribute, s.type, field(default=s.parse(_DEFAULTS, s.name), repr=not s.secret))
        for s in SETTINGS
        if s.parse is not None
    ],
    frozen=True,
    namespace={"dry_run": property(_dry_run), "__doc__": "The validated configuration of one service instance."},
)
Settings.__module__ = __name__  # make_dataclass's `module` argument is Python 3.12's


def read_environment() -> dict[str, str]:
    """The setting variables of the working directory's `.env` and the environment (which wins); os.environ is left alone."""
    path = os.path.join(os.getcwd(), ".env")
    try:
        found = {name: value for name, value in dotenv_values(path).items() if value}
    except OSError as error:  # a missing file is no error: dotenv reads nothing
        raise ConfigError(f"{path} cannot be read ({error.strerror}): let the service's user read it.") from None
    found.update({s.name: os.environ[s.name] for s in SETTINGS if s.name in os.environ})
    return found


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; with no mapping, from `.env` and os.environ."""
    if environ is None:
        environ = read_environment()
    env = {s.name: (environ.get(s.name) or "").strip() or s.default for s in SETTINGS}
    return Settings(**{s.attribute: s.parse(env, s.name) for s in SETTINGS if s.parse is not None})


_handed_down: Settings | None = None  # what the gunicorn master checked, inherited by every process it forks


def hand_down(settings: Settings) -> None:
    """Make these the settings of every process forked from now on: they never read `.env` themselves."""
    global _handed_down
    _handed_down = settings


def load_settings_or_exit() -> Settings:
    """The settings the master checked, else read them, or stop the process with a message that says how to fix them."""
    if _handed_down is not None:
        return _handed_down
    try:
        return load_settings()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr, flush=True)
        # 4 is gunicorn's "app failed to load": it stops instead of respawning workers.
        raise SystemExit(4) from None
