"""`flask --app app zendesk-app --out read-receipts.zip`: the Zendesk sidebar app's zip, with this service's address."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from read_receipts.operations.agent_commands import agents

APP_DIR = Path(__file__).resolve().parent.parent.parent / "zendesk_app"
# What Zendesk takes in an app's zip: the manifest, translations and assets (vendor.sh stays out).
PACKAGED = ("translations/*.json", "assets/*")


def add_zendesk_app_commands(app: Flask) -> None:
    """Add `zendesk-app` and `agents` to the app's CLI."""
    app.cli.add_command(zendesk_app_command)
    app.cli.add_command(agents)


def manifest_for(public_url: str, source: Path = APP_DIR) -> dict:
    """The shipped manifest, with the service's address as the default service_url and the whitelisted domain."""
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    for parameter in manifest["parameters"]:
        if parameter["name"] == "service_url":
            parameter["default"] = public_url
    manifest["domainWhitelist"] = [urlsplit(public_url).hostname]
    return manifest


def write_app_zip(out: Path, public_url: str, source: Path = APP_DIR) -> list[str]:
    """Write the app's zip; return the names it holds."""
    files = sorted(path for pattern in PACKAGED for path in source.glob(pattern) if path.is_file())
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest_for(public_url, source), indent=2) + "\n")
        for path in files:
            archive.write(path, path.relative_to(source).as_posix())
    return ["manifest.json", *(path.relative_to(source).as_posix() for path in files)]


@click.command("zendesk-app")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), default="read-receipts.zip")
@with_appcontext
def zendesk_app_command(out: Path) -> None:
    """Write the Zendesk sidebar app's zip to upload in Admin Center (its service_url is PUBLIC_URL)."""
    settings = current_app.extensions["settings"]
    if not (APP_DIR / "manifest.json").is_file():
        raise click.ClickException(f"{APP_DIR} is missing: run this command from a checkout of the project.")
    if not urlsplit(settings.public_url).scheme == "https" or settings.public_url.startswith("https://localhost"):
        click.echo("Note: PUBLIC_URL is not a public https address; Zendesk's proxy cannot reach it.", err=True)
    if not settings.api_token:
        click.echo("Note: API_TOKEN is not set; the app authenticates with it (its api_token setting).", err=True)
    names = write_app_zip(out, settings.public_url)
    click.echo(f"{out}: {len(names)} files, service_url {settings.public_url}.")
    click.echo("Upload it in Admin Center > Apps and integrations > Zendesk Support apps > Upload private app,")
    click.echo("and paste the service's API_TOKEN into its api_token setting.")
