"""Settings: safe defaults, and start-up refusals that say how to fix them."""

from __future__ import annotations

import base64
import logging
import os
import re
from dataclasses import fields
from pathlib import Path

import pytest
from dotenv import dotenv_values

from config import SETTINGS, ConfigError, Settings, load_settings
from read_receipts.operations.startup import announce

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_run_without_zendesk_on_sqlite():
    settings = load_settings({})
    assert settings.dry_run
    assert settings.database_url == "sqlite:///read_receipts.db"
    assert settings.public_url == "http://localhost:8000"
    assert settings.verify_requester and settings.note_interval == 3600 and settings.note_timezone == "UTC"


def test_api_token_auth_uses_email_slash_token():
    settings = load_settings({"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "a@acme.io", "ZENDESK_API_TOKEN": "t0k"})
    assert settings.zendesk_url == "https://acme.zendesk.com"
    assert settings.zendesk_auth == "Basic " + base64.b64encode(b"a@acme.io/token:t0k").decode()
    assert "t0k" not in repr(settings)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000", "http://127.0.0.2:9000/", "http://[::1]:9000", "http://localhost"]
)
def test_plain_http_zendesk_url_is_allowed_on_this_machine_only(url):
    assert load_settings({"ZENDESK_OAUTH_TOKEN": "o", "ZENDESK_URL": url}).zendesk_url == url.rstrip("/")


def test_oauth_token_is_a_bearer():
    settings = load_settings({"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_OAUTH_TOKEN": "xyz"})
    assert settings.zendesk_auth == "Bearer xyz"


def test_ignore_ips_and_note_kinds_are_read():
    settings = load_settings(
        {"IGNORE_IPS": " 203.0.113.7, 198.51.100.0/24,2001:db8::/48 ", "NOTE_KINDS": "person, scanner"}
    )
    assert settings.ignore_ips == ("203.0.113.7/32", "198.51.100.0/24", "2001:db8::/48")
    assert settings.note_kinds == ("person", "scanner")


def test_heroku_style_postgres_url_is_accepted():
    settings = load_settings({"DATABASE_URL": "postgres://u:p@db.example.com:5432/receipts"})
    assert settings.database_url == "postgresql+psycopg://u:p@db.example.com:5432/receipts"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ZENDESK_EMAIL": "a@acme.io", "ZENDESK_SUBDOMAIN": "acme"}, "ZENDESK_API_TOKEN is not set"),
        ({"ZENDESK_API_TOKEN": "t", "ZENDESK_SUBDOMAIN": "acme"}, "ZENDESK_EMAIL is not set"),
        ({"ZENDESK_EMAIL": "a@acme.io", "ZENDESK_API_TOKEN": "t"}, "ZENDESK_SUBDOMAIN is not set"),
        (
            {"ZENDESK_EMAIL": "a@acme.io", "ZENDESK_API_TOKEN": "t", "ZENDESK_SUBDOMAIN": "acme.zendesk.com"},
            "just the subdomain",
        ),
        ({"ZENDESK_OAUTH_TOKEN": "o", "ZENDESK_EMAIL": "a@acme.io", "ZENDESK_SUBDOMAIN": "acme"}, "not both"),
        ({"ZENDESK_EMAIL": "agent", "ZENDESK_API_TOKEN": "t", "ZENDESK_SUBDOMAIN": "acme"}, "email address"),
        ({"ZENDESK_OAUTH_TOKEN": "o", "ZENDESK_URL": "http://zendesk.example.com"}, "must use https"),
        ({"ZENDESK_OAUTH_TOKEN": "o", "ZENDESK_URL": "http://10.0.0.5:8080"}, "must use https"),
        ({"ZENDESK_OAUTH_TOKEN": "o", "ZENDESK_URL": "ftp://x"}, "ZENDESK_URL must be an http(s) address"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "mysql://db/x"}, "must be sqlite:///... or postgresql://..."),
        ({"PUBLIC_URL": "pixel.example.com"}, "PUBLIC_URL must be the address mail clients reach"),
        ({"PORT": "eighty"}, "PORT must be a number"),
        ({"PROXY_HOPS": "-1"}, "PROXY_HOPS must be a number from 0 to 5"),
        ({"VERIFY_REQUESTER": "maybe"}, "VERIFY_REQUESTER must be true or false"),
        ({"NOTE_TIMEZONE": "Paris"}, "NOTE_TIMEZONE 'Paris' is not a known time zone"),
        ({"NOTE_TAG": "two words"}, "NOTE_TAG must be one word"),
        ({"NOTE_INTERVAL_MINUTES": "0"}, "NOTE_INTERVAL_MINUTES must be a number from 1"),
        ({"ZENDESK_UPDATES_PER_MINUTE": "1000"}, "ZENDESK_UPDATES_PER_MINUTE must be a number from 1 to 300"),
        ({"ZENDESK_TIMEOUT": "nan"}, "ZENDESK_TIMEOUT must be a number"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of"),
        ({"NOTE_KINDS": "person,agent"}, "loads from IGNORE_IPS are never noted"),
        ({"NOTE_KINDS": "people"}, "NOTE_KINDS may hold person, apple_preload, gmail_prefetch, scanner, bot"),
        ({"IGNORE_IPS": "10.0.0.0/8, office"}, "IGNORE_IPS holds 'office', which is not an address or range"),
        ({"IGNORE_IPS": "10.0.0.300"}, "IGNORE_IPS holds '10.0.0.300'"),
    ],
)
def test_bad_setting_is_refused_with_a_fix(env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(env)


def test_secrets_never_appear_in_config_errors():
    with pytest.raises(ConfigError) as error:
        load_settings({"ZENDESK_API_TOKEN": "sup3r-s3cret", "ZENDESK_SUBDOMAIN": "acme"})
    assert "sup3r-s3cret" not in str(error.value)


def documented_names(path: Path, pattern: str) -> set[str]:
    """Setting names a document lists."""
    return set(re.findall(pattern, path.read_text(), flags=re.MULTILINE))


def test_env_example_lists_exactly_the_settings_the_code_reads():
    listed = documented_names(ROOT / ".env.example", r"^#?\s?([A-Z][A-Z0-9_]+)=")
    assert listed == {setting.name for setting in SETTINGS}


def readme_settings_table() -> dict[str, tuple[str, str]]:
    """The README's settings table: each name with the default and the meaning it shows."""
    section = (ROOT / "README.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (.*?) \| (.*) \|$", section, flags=re.MULTILINE)
    return {name: (default, meaning) for name, default, meaning in rows}


def test_readme_settings_table_shows_each_declared_default_and_help():
    shown = {s.name: (f"`{s.default}`" if s.default else "(empty)", s.help) for s in SETTINGS}
    assert readme_settings_table() == shown


def test_settings_defaults_are_the_declared_defaults_parsed():
    assert Settings() == load_settings({})
    assert {f.name for f in fields(Settings)} == {s.attribute for s in SETTINGS if s.parse is not None}


def test_secret_settings_stay_out_of_the_repr():
    fernet = base64.urlsafe_b64encode(b"f" * 32).decode()
    secrets = {s.name: "s" * 40 for s in SETTINGS if s.secret and s.name != "ZENDESK_OAUTH_TOKEN"}
    secrets.update(
        TRACKING_ENCRYPTION_KEYS=fernet,
        DATABASE_URL="postgresql://u:" + "s" * 40 + "@db.example.com/receipts",
        ZENDESK_EMAIL="a@acme.io",
        ZENDESK_API_TOKEN="t" * 40,
        ADMIN_USER="admin",
    )
    settings = load_settings({**secrets, "ZENDESK_URL": "http://127.0.0.1:9", "WEBHOOK_URLS": "https://hooks.example"})
    assert settings.zendesk_auth and settings.webhook_secret and settings.tracking_encryption_keys == (fernet,)
    assert "s" * 32 not in repr(settings) and fernet not in repr(settings) and "dCB0" not in repr(settings)


def test_code_reads_no_setting_outside_config():
    sources = [*ROOT.glob("*.py"), *ROOT.glob("read_receipts/**/*.py")]
    for source in (p for p in sources if p.name != "settings.py"):
        text = source.read_text()
        assert "os.environ" not in text and "getenv" not in text, f"{source.name} reads the environment directly"


def test_readme_quick_start_runs_the_procfile_command():
    procfile = (ROOT / "Procfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert '"app:create_app(deliver=True)"' in procfile and "--config gunicorn.conf.py" in procfile
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert (
        'gunicorn --config gunicorn.conf.py --bind 0.0.0.0:8000 --workers 2 "app:create_app(deliver=True)"'
        in quick_start
    )
    assert "pip install -r requirements-dev.txt && .venv/bin/python -m pytest" in quick_start
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_readme_how_it_works_names_every_module_of_the_package():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## How it works") : readme.index("## Development")]
    modules = [
        p for p in (ROOT / "read_receipts").rglob("*.py") if p.name != "__init__.py" and "migrations" not in p.parts
    ]
    missing = [str(p.relative_to(ROOT)) for p in modules if f"`{p.name}`" not in section]
    assert missing == []


def test_startup_says_which_parts_are_on_and_where(caplog):
    settings = load_settings(
        {
            "PUBLIC_URL": "https://pixel.acme.com",
            "ADMIN_USER": "admin",
            "ADMIN_PASSWORD": "a-long-password",
            "TRACKING_KEYS": "k" * 32,
            "WEBHOOK_URLS": "https://hooks.acme.com/events?key=hidden",
            "WEBHOOK_SECRET": "w" * 32,
            "ZENDESK_WEBHOOK_SECRET": "z" * 32,
            "METRICS_TOKEN": "m" * 32,
        }
    )
    with caplog.at_level(logging.INFO, logger="read_receipts"):
        announce(settings)
    assert caplog.messages[1:] == [
        "on: the pixel at https://pixel.acme.com/pixel.gif; the dashboard at https://pixel.acme.com/dashboard and "
        "the API at https://pixel.acme.com/api/; tracking links at https://pixel.acme.com/o/ and "
        "https://pixel.acme.com/c/ (signed); webhooks of every open and click to hooks.acme.com; the reply webhook "
        "at https://pixel.acme.com/zendesk/replies; metrics at https://pixel.acme.com/metrics, behind METRICS_TOKEN"
    ]


def test_startup_says_what_is_off_and_what_turns_it_on(caplog):
    with caplog.at_level(logging.INFO, logger="read_receipts"):
        announce(load_settings({"API_TOKEN": "a" * 32}))
    assert caplog.messages[1:] == [
        "on: the pixel at http://localhost:8000/pixel.gif; the API at http://localhost:8000/api/ (with API_TOKEN "
        "only); metrics at http://localhost:8000/metrics, open to anyone who reaches it (set METRICS_TOKEN)",
        "off: the dashboard (set ADMIN_USER and ADMIN_PASSWORD); tracking links (set TRACKING_KEYS); webhooks (set "
        "WEBHOOK_URLS and WEBHOOK_SECRET); the reply webhook (set ZENDESK_WEBHOOK_SECRET)",
    ]


def test_env_example_copied_as_it_is_sets_no_value():
    assert {name: value for name, value in dotenv_values(ROOT / ".env.example").items() if value} == {}


def test_env_file_is_read_without_changing_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NOTE_TAG=from_the_file\nLOG_LEVEL=DEBUG\nNOT_A_SETTING=x\n")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    settings = load_settings()
    assert settings.note_tag == "from_the_file" and settings.log_level == "WARNING"  # the environment wins
    assert "NOTE_TAG" not in os.environ and "NOT_A_SETTING" not in os.environ
    (tmp_path / ".env").write_text("NOTE_TAG=changed\n")
    assert load_settings().note_tag == "changed"  # read afresh each time (a reload sees the new file)
