"""The parsers of setting values: each reads one variable and says how to fix a wrong one."""

from __future__ import annotations

import ipaddress
import re
from base64 import b64encode
from collections.abc import Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from read_receipts.labels.openers import NOTABLE_KINDS
from read_receipts.store.privacy import IP_MODES

_SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}


class ConfigError(ValueError):
    """A setting is wrong; the message says how to fix it."""


def subdomain(raw: str) -> str:
    """Return ZENDESK_SUBDOMAIN in lower case, or '' when it is not a bare subdomain."""
    return raw.lower() if _SUBDOMAIN.match(raw.lower()) else ""


def zendesk_auth(env: Mapping[str, str]) -> str:
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


def zendesk_url(env: Mapping[str, str]) -> str:
    """Return the API base URL from ZENDESK_URL or ZENDESK_SUBDOMAIN."""
    url, name = env["ZENDESK_URL"], env["ZENDESK_SUBDOMAIN"].lower()
    if not url:
        if not name:
            raise ConfigError(
                "ZENDESK_SUBDOMAIN is not set: give the `acme` of acme.zendesk.com (or ZENDESK_URL for a full address)."
            )
        if not _SUBDOMAIN.match(name):
            raise ConfigError(
                f"ZENDESK_SUBDOMAIN must be just the subdomain, like `acme` for acme.zendesk.com (got {name!r})."
            )
        return f"https://{name}.zendesk.com"
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


def spool_dir(raw: str, database: str) -> str:
    """The spool directory: as set, else beside a SQLite file (like its WAL), else `spool` in the working directory."""
    if raw:
        return raw
    if database.startswith("sqlite:///") and len(database) > len("sqlite:///"):
        return database.removeprefix("sqlite:///") + "-spool"
    return "spool"


def database_url(url: str) -> str:
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


def public_url(env: Mapping[str, str]) -> str:
    """Return PUBLIC_URL without a trailing slash."""
    port = int(number(env, "PORT", 1, 65535))
    url = env["PUBLIC_URL"] or f"http://localhost:{port}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(
            f"PUBLIC_URL must be the address mail clients reach, like https://pixel.example.com (got {url!r})."
        )
    return url.rstrip("/")


def number(env: Mapping[str, str], name: str, low: float, high: float) -> float:
    """Parse a bounded number setting."""
    raw = env[name]
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g} (got {raw!r}).")
    return value


def flag(env: Mapping[str, str], name: str) -> bool:
    """Parse a true/false setting."""
    raw = env[name].lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (got {env[name]!r}).")


def timezone(name: str, setting: str = "NOTE_TIMEZONE") -> str:
    """Check that a time zone name is known."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{setting} {name!r} is not a known time zone: use a name like UTC, Europe/Paris or America/New_York."
        ) from None
    return name


def tag(env: Mapping[str, str], name: str) -> str:
    """Check that a Zendesk tag has no spaces or commas."""
    value = env[name]
    if value and not re.fullmatch(r"[\w:/.-]{1,80}", value):
        raise ConfigError(f"{name} must be one word without spaces or commas (got {value!r}).")
    return value


def field_id(raw: str) -> int:
    """Parse the id of a Zendesk ticket field (0 for none)."""
    if raw and not (raw.isdigit() and 0 < int(raw) < 2**63):
        raise ConfigError(
            f"READ_FIELD_ID must be the number of a ticket field, as Admin Center shows it (got {raw!r})."
        )
    return int(raw or 0)


def user_ids(raw: str) -> frozenset[int]:
    """Parse comma-separated Zendesk user ids."""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not all(part.isdigit() for part in ids):
        raise ConfigError(f"OPT_OUT_REQUESTERS must be Zendesk user ids separated by commas (got {raw!r}).")
    return frozenset(int(part) for part in ids)


def note_kinds(raw: str) -> tuple[str, ...]:
    """Parse the comma-separated kinds of load that get a note."""
    kinds = tuple(kind.strip() for kind in raw.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in NOTABLE_KINDS]
    if unknown:
        raise ConfigError(
            f"NOTE_KINDS may hold {', '.join(NOTABLE_KINDS)} (got {', '.join(unknown)}); "
            "loads from IGNORE_IPS are never noted."
        )
    return kinds


def networks(raw: str) -> tuple[str, ...]:
    """Parse comma-separated addresses and CIDR ranges."""
    parsed = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            parsed.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"IGNORE_IPS holds {item!r}, which is not an address or range: use e.g. 203.0.113.7, "
                "198.51.100.0/24, 2001:db8::/48, separated by commas."
            ) from None
    return tuple(parsed)


def signing_keys(raw: str) -> tuple[str, ...]:
    """Parse the tracking links' signing secrets; short secrets can be guessed."""
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    if any(len(key) < 32 for key in keys):
        raise ConfigError(
            "TRACKING_KEYS must be secrets of at least 32 characters, e.g. from "
            '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return keys


def fernet_keys(raw: str) -> tuple[str, ...]:
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


def webhook_urls(raw: str) -> tuple[str, ...]:
    """Parse the webhook receivers: https, or http on this machine only."""
    urls = tuple(url.strip() for url in raw.split(",") if url.strip())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"WEBHOOK_URLS must hold absolute http(s) URLs (got {url!r}).")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ConfigError(f"WEBHOOK_URLS must use https, except on this machine (got {url!r}).")
    return urls


def webhook_secret(env: Mapping[str, str]) -> str:
    """Require a strong signing secret whenever webhooks are on."""
    secret = env["WEBHOOK_SECRET"]
    if env["WEBHOOK_URLS"] and len(secret) < 32:
        raise ConfigError(
            "WEBHOOK_SECRET must be set, at least 32 characters, when WEBHOOK_URLS is: "
            '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return secret


def admin_password(env: Mapping[str, str]) -> str:
    """Require both dashboard settings, and a password worth the name."""
    user, password = env["ADMIN_USER"], env["ADMIN_PASSWORD"]
    if bool(user) != bool(password):
        raise ConfigError("Set both ADMIN_USER and ADMIN_PASSWORD to turn the dashboard on, or neither to keep it off.")
    if password and len(password) < 12:
        raise ConfigError("ADMIN_PASSWORD must be at least 12 characters.")
    return password


def api_token(token: str) -> str:
    """Require a token too long to guess."""
    if token and len(token) < 32:
        raise ConfigError(
            'API_TOKEN must be at least 32 characters: `python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return token


def ip_storage(mode: str) -> str:
    """Check the IP_STORAGE mode."""
    if mode.lower() not in IP_MODES:
        raise ConfigError(f"IP_STORAGE must be one of {', '.join(IP_MODES)} (got {mode!r}).")
    return mode.lower()


def log_level(level: str) -> str:
    """Check a log level name."""
    if level.upper() not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))} (got {level!r}).")
    return level.upper()


def long_secret(env: Mapping[str, str], name: str) -> str:
    """Require a secret too long to guess, when it is set."""
    secret = env[name]
    if secret and len(secret) < 32:
        raise ConfigError(
            f'{name} must be at least 32 characters: `python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return secret
