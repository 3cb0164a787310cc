"""The Flask CLI commands: the img tag to paste, and the credentials check."""

from __future__ import annotations

import re

import pytest


def test_img_tag_uses_public_url_and_zendesk_placeholders(make_app):
    app = make_app(PUBLIC_URL="https://pixel.example.com/")
    result = app.test_cli_runner().invoke(args=["img-tag"])
    assert result.exit_code == 0
    assert (
        'src="https://pixel.example.com/pixel.gif?ticket_id={{ticket.id}}&requester_id={{ticket.requester.id}}'
        '&comment_id={{ticket.latest_public_comment.id}}&sent={{ticket.updated_at_with_timestamp}}"'
    ) in result.output
    assert re.search(r'<img [^>]*width="1" height="1" alt=""', result.output)


def test_img_tag_has_the_plain_form_when_verification_is_off(make_app):
    app = make_app(PUBLIC_URL="https://pixel.example.com", VERIFY_REQUESTER="false")
    output = app.test_cli_runner().invoke(args=["img-tag"]).output
    assert (
        'src="https://pixel.example.com/pixel.gif?ticket_id={{ticket.id}}&sent={{ticket.updated_at_with_timestamp}}"'
        in output
    )


def test_check_zendesk_accepts_good_credentials(make_app, zendesk):
    result = make_app().test_cli_runner().invoke(args=["check-zendesk"])
    assert result.exit_code == 0
    assert f"OK: {zendesk.url} accepts the credentials of API Agent <agent@example.com>, admin." in result.output


def test_check_zendesk_explains_wrong_credentials(make_app):
    result = make_app(ZENDESK_API_TOKEN="wrong-s3cret").test_cli_runner().invoke(args=["check-zendesk"])
    assert result.exit_code == 1
    assert "Zendesk refused the credentials (401)" in result.output and "ZENDESK_API_TOKEN" in result.output
    assert "wrong-s3cret" not in result.output


def test_check_zendesk_explains_an_unreachable_zendesk(make_app):
    result = make_app(ZENDESK_URL="http://127.0.0.1:9").test_cli_runner().invoke(args=["check-zendesk"])
    assert result.exit_code == 1 and "Cannot reach http://127.0.0.1:9" in result.output


def test_check_zendesk_in_dry_run_says_what_to_set(make_app):
    app = make_app(ZENDESK_URL=None, ZENDESK_EMAIL=None, ZENDESK_API_TOKEN=None)
    result = app.test_cli_runner().invoke(args=["check-zendesk"])
    assert result.exit_code == 1 and "No Zendesk credentials are set" in result.output


@pytest.mark.parametrize(
    ("public_url", "warning"),
    [
        (None, "Warning: PUBLIC_URL is not set (or names this machine): mail clients cannot reach http://localhost:"),
        ("http://127.0.0.1:8000", "mail clients cannot reach http://127.0.0.1:8000."),
        ("https://pixel.example.com", "Warning: PUBLIC_URL names an example domain (pixel.example.com): set it to"),
        ("https://receipts.example.org", "PUBLIC_URL names an example domain (receipts.example.org)"),
        ("https://pixel.acme.test", "PUBLIC_URL names an example domain (pixel.acme.test)"),
        ("http://pixel.acme.com", "Warning: PUBLIC_URL uses plain http: some mail clients do not load images over it"),
    ],
)
def test_img_tag_warns_about_a_public_url_mail_clients_cannot_use(make_app, public_url, warning):
    result = make_app(PUBLIC_URL=public_url).test_cli_runner().invoke(args=["img-tag"])
    assert result.exit_code == 0 and warning in result.stderr
    assert result.stdout.startswith("<img src=")


def test_img_tag_is_quiet_about_a_real_https_public_url(make_app):
    result = make_app(PUBLIC_URL="https://pixel.acme.com").test_cli_runner().invoke(args=["img-tag"])
    assert result.stderr == "" and result.stdout.startswith('<img src="https://pixel.acme.com/pixel.gif?')


def test_check_zendesk_names_a_user_without_a_name_by_email(make_app, zendesk):
    zendesk.agent_name = None
    result = make_app().test_cli_runner().invoke(args=["check-zendesk"])
    assert result.exit_code == 0
    assert f"OK: {zendesk.url} accepts the credentials of agent@example.com, admin.\n" == result.output
