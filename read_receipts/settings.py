"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from dotenv import load_dotenv
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from read_receipts.labels.openers import NOTABLE_KINDS
from read_receipts.store.privacy import IP_MODES


class ConfigError(ValueError):
    """A setting is wrong; the message says how to fix it."""


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
        "DATABASE_URL",
        "sqlite:///read_receipts.db",
        "SQLite file, or `postgresql://...` for several instances sharing one store.",
    ),
    Setting(
        "DATABASE_AUTO_UPGRADE",
        "true",
        "Upgrade the database's schema at start-up, once, under a lock; false: run `flask --app app db upgrade` when deploying.",
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

_SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one service instance."""

    database_url: str = field(repr=False)
    public_url: str
    auto_upgrade: bool = True
    zendesk_url: str = ""
    zendesk_auth: str = field(default="", repr=False)
    zendesk_timeout: float = 10.0
    updates_per_minute: int = 50
    updates_per_ticket: int = 10
    requests_per_minute: int = 100
    proxy_hops: int = 0
    verify_requester: bool = True
    note_timezone: str = "UTC"
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
    auth = _zendesk_auth(env)
    return Settings(
        database_url=_database_url(env["DATABASE_URL"]),
        public_url=_public_url(env),
        auto_upgrade=_flag(env, "DATABASE_AUTO_UPGRADE"),
        zendesk_url=_zendesk_url(env) if auth else "",
        zendesk_auth=auth,
        zendesk_timeout=_number(env, "ZENDESK_TIMEOUT", 1, 60),
        updates_per_minute=int(_number(env, "ZENDESK_UPDATES_PER_MINUTE", 1, 300)),
        updates_per_ticket=int(_number(env, "ZENDESK_UPDATES_PER_TICKET", 1, 30)),
        requests_per_minute=int(_number(env, "ZENDESK_REQUESTS_PER_MINUTE", 1, 2500)),
        proxy_hops=int(_number(env, "PROXY_HOPS", 0, 5)),
        verify_requester=_flag(env, "VERIFY_REQUESTER"),
        note_timezone=_timezone(env["NOTE_TIMEZONE"]),
        note_tag=_tag(env["NOTE_TAG"]),
        note_interval=60 * _number(env, "NOTE_INTERVAL_MINUTES", 1, 7 * 24 * 60),
        note_kinds=_note_kinds(env["NOTE_KINDS"]),
        ignore_ips=_networks(env["IGNORE_IPS"]),
        tracking_keys=_signing_keys(env["TRACKING_KEYS"]),
        tracking_encryption_keys=_fernet_keys(env["TRACKING_ENCRYPTION_KEYS"]),
        webhook_urls=_webhook_urls(env["WEBHOOK_URLS"]),
        webhook_secret=_webhook_secret(env),
        metrics_token=_long_secret(env, "METRICS_TOKEN"),
        api_token=_api_token(env["API_TOKEN"]),
        admin_user=env["ADMIN_USER"],
        admin_password=_admin_password(env),
        zendesk_webhook_secret=_long_secret(env, "ZENDESK_WEBHOOK_SECRET"),
        zendesk_subdomain=env["ZENDESK_SUBDOMAIN"].lower()
        if _SUBDOMAIN.match(env["ZENDESK_SUBDOMAIN"].lower())
        else "",
        opt_out_tag=_tag(env["OPT_OUT_TAG"], "OPT_OUT_TAG"),
        opt_out_requesters=_user_ids(env["OPT_OUT_REQUESTERS"]),
        ip_storage=_ip_storage(env["IP_STORAGE"]),
        retention_days=_number(env, "RETENTION_DAYS", 0, 36500),
        log_level=_log_level(env["LOG_LEVEL"]),
    )


def load_settings_or_exit() -> Settings:
    """Load settings, or stop the process with a message that says how to fix them."""
    try:
        return load_settings()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr, flush=True)
        # 4 is gunicorn's "app failed to load": it stops instead of respawning workers.
        raise SystemExit(4) from None


def _zendesk_auth(env: Mapping[str, str]) -> str:
    """Return the Authorization header value, or '' for a dry run."""
    email, token, oauth = env["ZENDESK_EMAIL"], env["ZENDESK_API_TOKEN"], env["ZENDESK_OAUTH_TOKEN"]
    if oauth and (email or token):
        raise ConfigError("Set either ZENDESK_OAUTH_TOKEN or ZENDESK_EMAIL with ZENDESK_API_TOKEN, not both.")
    if oauth:
        return f"Bearer {oauth}"
    if bool(email) != bool(token):
        missing = "ZENDESK_API_TOKEN" if email else "ZENDESK_EMAIL"
        raise ConfigError(
            f"{missing} is not set: API-token auth needs both ZENDESK_EMAIL and "
            "ZENDESK_API_TOKEN (or unset both to run without Zendesk, logging notes only)."
        )
    if not email:
        return ""
    if "@" not in email:
        raise ConfigError(f"ZENDESK_EMAIL must be the agent's email address (got {email!r}).")
    return "Basic " + b64encode(f"{email}/token:{token}".encode()).decode()


def _zendesk_url(env: Mapping[str, str]) -> str:
    """Return the API base URL from ZENDESK_URL or ZENDESK_SUBDOMAIN."""
    url, subdomain = env["ZENDESK_URL"], env["ZENDESK_SUBDOMAIN"].lower()
    if not url:
        if not subdomain:
            raise ConfigError(
                "ZENDESK_SUBDOMAIN is not set: give the `acme` of acme.zendesk.com (or ZENDESK_URL for a full address)."
            )
        if not _SUBDOMAIN.match(subdomain):
            raise ConfigError(
                f"ZENDESK_SUBDOMAIN must be just the subdomain, like `acme` for acme.zendesk.com (got {subdomain!r})."
            )
        return f"https://{subdomain}.zendesk.com"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ZENDESK_URL must be an http(s) address like https://acme.zendesk.com (got {url!r}).")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError("ZENDESK_URL must use https: credentials are never sent in clear text.")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    """Whether a host name is this machine (plain http is allowed only there)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _database_url(url: str) -> str:
    """Normalise DATABASE_URL to a SQLAlchemy URL with a bundled driver."""
    if url.startswith("postgres://"):  # Heroku-style alias
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(  # never the URL itself: it may hold the password
            "DATABASE_URL is not a database URL: use sqlite:///file.db or postgresql://user:password@host:5432/dbname."
        ) from None
    if parsed.drivername in ("postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername == "sqlite":
        return url
    raise ConfigError(f"DATABASE_URL must be sqlite:///... or postgresql://... (got a {parsed.drivername} URL).")


def _public_url(env: Mapping[str, str]) -> str:
    """Return PUBLIC_URL without a trailing slash."""
    port = int(_number(env, "PORT", 1, 65535))
    url = env["PUBLIC_URL"] or f"http://localhost:{port}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(
            f"PUBLIC_URL must be the address mail clients reach, like https://pixel.example.com (got {url!r})."
        )
    return url.rstrip("/")


def _number(env: Mapping[str, str], name: str, low: float, high: float) -> float:
    """Parse a bounded number setting."""
    raw = env[name]
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g} (got {raw!r}).")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    """Parse a true/false setting."""
    raw = env[name].lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (got {env[name]!r}).")


def _timezone(name: str) -> str:
    """Check that a time zone name is known."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"NOTE_TIMEZONE {name!r} is not a known time zone: use a name like UTC, Europe/Paris or America/New_York."
        ) from None
    return name


def _tag(tag: str, name: str = "NOTE_TAG") -> str:
    """Check that a Zendesk tag has no spaces or commas."""
    if tag and not re.fullmatch(r"[\w:/.-]{1,80}", tag):
        raise ConfigError(f"{name} must be one word without spaces or commas (got {tag!r}).")
    return tag


def _user_ids(raw: str) -> frozenset[int]:
    """Parse comma-separated Zendesk user ids."""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not all(part.isdigit() for part in ids):
        raise ConfigError(f"OPT_OUT_REQUESTERS must be Zendesk user ids separated by commas (got {raw!r}).")
    return frozenset(int(part) for part in ids)


def _note_kinds(raw: str) -> tuple[str, ...]:
    """Parse the comma-separated kinds of load that get a note."""
    kinds = tuple(kind.strip() for kind in raw.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in NOTABLE_KINDS]
    if unknown:
        raise ConfigError(
            f"NOTE_KINDS may hold {', '.join(NOTABLE_KINDS)} (got {', '.join(unknown)}); "
            "loads from IGNORE_IPS are never noted."
        )
    return kinds


def _networks(raw: str) -> tuple[str, ...]:
    """Parse comma-separated addresses and CIDR ranges."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"IGNORE_IPS holds {item!r}, which is not an address or range: use e.g. 203.0.113.7, "
                "198.51.100.0/24, 2001:db8::/48, separated by commas."
            ) from None
    return tuple(networks)


def _signing_keys(raw: str) -> tuple[str, ...]:
    """Parse the tracking links' signing secrets; short secrets can be guessed."""
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    if any(len(key) < 32 for key in keys):
        raise ConfigError(
            "TRACKING_KEYS must be secrets of at least 32 characters, e.g. from "
            '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return keys


def _fernet_keys(raw: str) -> tuple[str, ...]:
    """Parse Fernet keys for encrypted tracking links."""
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                "TRACKING_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes), e.g. from "
                '`python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
            ) from None
    return keys


def _webhook_urls(raw: str) -> tuple[str, ...]:
    """Parse the webhook receivers: https, or http on this machine only."""
    urls = tuple(url.strip() for url in raw.split(",") if url.strip())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"WEBHOOK_URLS must hold absolute http(s) URLs (got {url!r}).")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ConfigError(f"WEBHOOK_URLS must use https, except on this machine (got {url!r}).")
    return urls


def _webhook_secret(env: Mapping[str, str]) -> str:
    """Require a strong signing secret whenever webhooks are on."""
    secret = env["WEBHOOK_SECRET"]
    if env["WEBHOOK_URLS"] and len(secret) < 32:
        raise ConfigError(
            "WEBHOOK_SECRET must be set, at least 32 characters, when WEBHOOK_URLS is: "
            '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return secret


def _admin_password(env: Mapping[str, str]) -> str:
    """Require both dashboard settings, and a password worth the name."""
    user, password = env["ADMIN_USER"], env["ADMIN_PASSWORD"]
    if bool(user) != bool(password):
        raise ConfigError("Set both ADMIN_USER and ADMIN_PASSWORD to turn the dashboard on, or neither to keep it off.")
    if password and len(password) < 12:
        raise ConfigError("ADMIN_PASSWORD must be at least 12 characters.")
    return password


def _api_token(token: str) -> str:
    """Require a token too long to guess."""
    if token and len(token) < 32:
        raise ConfigError(
            'API_TOKEN must be at least 32 characters: `python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return token


def _ip_storage(mode: str) -> str:
    """Check the IP_STORAGE mode."""
    if mode.lower() not in IP_MODES:
        raise ConfigError(f"IP_STORAGE must be one of {', '.join(IP_MODES)} (got {mode!r}).")
    return mode.lower()


def _log_level(level: str) -> str:
    """Check a log level name."""
    if level.upper() not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))} (got {level!r}).")
    return level.upper()


def _long_secret(env: Mapping[str, str], name: str) -> str:
    """Require a secret too long to guess, when it is set."""
    secret = env[name]
    if secret and len(secret) < 32:
        raise ConfigError(
            f'{name} must be at least 32 characters: `python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return secret
