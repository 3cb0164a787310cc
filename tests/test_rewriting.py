"""HTML rewriting: the pixel at the top, http(s) links tracked, every other byte unchanged."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from read_receipts.links.rewriting import PIXEL_TAG, _Finder, prepare_html, rewrite_html
from read_receipts.links.tokens import MetaTooLong, TargetError, TokenError, Tracker

TRACKER = Tracker("https://px.example.com", ("k" * 40,))
NEWSLETTER = (Path(__file__).parent / "data" / "newsletter.html").read_text()
CLICK = re.compile(r"https://px\.example\.com/c/([A-Za-z0-9_.-]+)")
PIXEL = re.compile(
    r'<img src="https://px\.example\.com/o/[A-Za-z0-9_.-]+\.gif" width="1" height="1" alt="" style="[^"]*">'
)


def restore(rewritten: str) -> str:
    """Undo the rewriting using only what the links carry: drop the pixel, put each target back."""
    without_pixel = PIXEL.sub("", rewritten, count=1)
    return CLICK.sub(lambda m: html.escape(TRACKER.decode(m.group(1)).target, quote=False), without_pixel)


def test_messy_email_keeps_every_other_byte():
    out = rewrite_html(NEWSLETTER, TRACKER, {"ticket_id": 4821})
    assert PIXEL.search(out)
    targets = [TRACKER.decode(token).target for token in CLICK.findall(out)]
    assert targets == [
        "https://help.example.com/hc/requests/4821?utm_source=email&utm_medium=reply",
        "https://help.example.com/hc/en-us",
        "https://example.com/unquoted",
        "https://example.com/btn",
    ]
    assert restore(out) == NEWSLETTER, "only the pixel and the tracked href values changed"


def test_pixel_goes_right_after_the_body_tag_by_default():
    out = rewrite_html(NEWSLETTER, TRACKER, {})
    assert re.search(r'<body style="margin:0;padding:0;" bgcolor="#ffffff"   ><img src="https://px', out)


def test_pixel_can_go_at_the_bottom_or_nowhere():
    bottom = rewrite_html(NEWSLETTER, TRACKER, {}, pixel="bottom", links=False)
    assert re.search(r'width="1" height="1" alt="" style="[^"]*">\n?</body>', bottom)
    assert rewrite_html(NEWSLETTER, TRACKER, {}, pixel="none", links=False) == NEWSLETTER


@pytest.mark.parametrize(
    "untouched",
    [
        'href="mailto:support@example.com?subject=Re%3A%20%234821"',
        'href="tel:+441234567890"',
        'href="#section-2"',
        'href="/relative/path"',
        '<a data-no-track href="https://example.com/unsubscribe?u=abc&amp;t=1">',
        '<v:roundrect href="https://example.com/mso-button"',  # inside a conditional comment
        '/* <a href="https://not-a-link.example"> */',  # inside <style>
        "<!DOCTYPE html PUBLIC",
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />',
    ],
)
def test_what_must_not_change_does_not(untouched):
    assert untouched in rewrite_html(NEWSLETTER, TRACKER, {"c": 1})


def test_a_fragment_without_body_gets_the_pixel_first():
    out = rewrite_html('<p>Hi <a href="https://example.com">there</a></p>', TRACKER, {})
    assert out.startswith('<img src="https://px.example.com/o/') and out.endswith("</a></p>")


PIECES = st.sampled_from(
    [
        "<!DOCTYPE html>",
        "<!-- a comment -->",
        "<!--[if mso]><p>mso</p><![endif]-->",
        '<meta charset="utf-8">',
        "<p class=x>",
        "</p>",
        "  \n\t",
        "caf&eacute; &amp; &#169; “x”",
        '<a href="https://example.com/a?b=1&amp;c=2">a</a>',
        "<a href='http://example.org/x'>b</a>",
        "<a href=https://example.net/y>c</a>",
        '<a href="mailto:x@example.com">m</a>',
        '<a href="#top">t</a>',
        '<a data-no-track href="https://example.com/no">n</a>',
        '<img src="https://cdn.example.com/i.png" alt="">',
        "<br/>",
        "<script>if (a < b) { x = '<a href=\"https://x\">'; }</script>",
        '<table><tr><td style="color:red">cell</td></tr></table>',
    ]
)


@settings(max_examples=200, deadline=None)
@given(head=st.lists(PIECES, max_size=6), body=st.lists(PIECES, max_size=12), upper=st.booleans())
def test_rewriting_changes_nothing_but_the_pixel_and_tracked_links(head, body, upper):
    body_tag = "<BODY bgcolor='#fff'>" if upper else "<body>"
    document = "".join(head) + body_tag + "".join(body) + "</body></html>"
    out = rewrite_html(document, TRACKER, {"n": 1})
    assert len(PIXEL.findall(out)) == 1
    assert out.index(body_tag) + len(body_tag) == PIXEL.search(out).start(), "the pixel opens the body"
    assert restore(out) == document


# -- rewrite once, sign per recipient ---------------------------------------------------------

METAS = st.dictionaries(
    st.text(max_size=8),
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.lists(st.integers(), max_size=3),
    max_size=4,
)
OPEN = re.compile(r"https://px\.example\.com/o/([A-Za-z0-9_.-]+)\.gif")
CAMPAIGN_PIECES = PIECES | st.sampled_from(
    [
        '<a href="https://user:pw@example.com/">refused target</a>',
        '<a href="HTTPS://EXAMPLE.COM/UPPER">u</a>',
        '<a href="https://example.com/a?b=1&amp;c=2">the same link again</a>',
        '<a href="https://example.com/café">accented</a>',
    ]
)


def todays_rewrite(document: str, tracker: Tracker, meta: dict, pixel: str) -> str:
    """The one-shot rewrite as it was before templates: each link signed alone, each edit spliced in turn."""
    finder = _Finder(document)
    edits = []
    for start, end, raw in finder.hrefs:
        target = html.unescape(raw)
        if target.lower().startswith(("http://", "https://")):
            try:
                edits.append((start, end, tracker.click_url(target, meta)))
            except TargetError:
                pass
    if pixel != "none":
        at = finder.body_start if pixel == "top" else finder.body_end
        at = (0 if pixel == "top" else len(document)) if at is None else at
        edits.append((at, at, PIXEL_TAG.format(url=tracker.open_url(meta))))
    for start, end, replacement in sorted(edits, reverse=True):
        document = document[:start] + replacement + document[end:]
    return document


@settings(max_examples=150, deadline=None)
@given(
    head=st.lists(CAMPAIGN_PIECES, max_size=4),
    body=st.lists(CAMPAIGN_PIECES, max_size=12),
    pixel=st.sampled_from(["top", "bottom", "none"]),
    recipients=st.lists(METAS, min_size=1, max_size=4),
)
def test_a_template_renders_each_recipient_as_the_one_shot_rewrite(head, body, pixel, recipients):
    document = "".join(head) + "<body>" + "".join(body) + "</body></html>"
    template = prepare_html(document, pixel=pixel)
    copies = [template.render(TRACKER, meta) for meta in recipients]
    for meta, copy in zip(recipients, copies, strict=True):
        assert (
            copy == rewrite_html(document, TRACKER, meta, pixel=pixel) == todays_rewrite(document, TRACKER, meta, pixel)
        )
        assert restore(copy) == document
        for token in CLICK.findall(copy):
            link = TRACKER.decode(token)
            assert link.meta == meta
            assert f"/c/{token}" == TRACKER.click_url(link.target, meta).removeprefix(TRACKER.base_url)
        assert [TRACKER.decode(token).meta for token in OPEN.findall(copy)] == ([meta] if pixel != "none" else [])


def test_every_copy_carries_its_own_recipient():
    template = prepare_html(NEWSLETTER)
    ann, bob = template.render(TRACKER, {"recipient": "ann"}), template.render(TRACKER, {"recipient": "bob"})
    assert ann != bob
    assert {TRACKER.decode(token).meta["recipient"] for token in CLICK.findall(ann) + OPEN.findall(ann)} == {"ann"}
    assert {TRACKER.decode(token).meta["recipient"] for token in CLICK.findall(bob) + OPEN.findall(bob)} == {"bob"}
    assert restore(ann) == restore(bob) == NEWSLETTER


def test_encrypted_copies_and_expiring_copies():
    sealed = Tracker("https://px.example.com", ("k" * 40,), (Fernet.generate_key().decode(),))
    template = prepare_html('<body><a href="https://example.com/a">a</a> <a href="https://example.com/b">b</a></body>')
    copy = template.render(sealed, {"recipient": "ann@example.com"})
    assert "ann" not in copy
    assert [sealed.decode(token).target for token in CLICK.findall(copy)] == [
        "https://example.com/a",
        "https://example.com/b",
    ]
    expired = template.render(TRACKER, {"n": 1}, expires_in=-1)
    for token in CLICK.findall(expired) + OPEN.findall(expired):
        with pytest.raises(TokenError, match="expired"):
            TRACKER.decode(token)


def test_a_template_refuses_an_unknown_pixel_place_and_long_metadata():
    with pytest.raises(ValueError, match='pixel must be "top", "bottom" or "none"'):
        prepare_html(NEWSLETTER, pixel="middle")
    with pytest.raises(MetaTooLong):
        prepare_html(NEWSLETTER).render(TRACKER, {"note": "x" * 4000})
