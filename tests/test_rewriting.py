"""HTML rewriting: the pixel at the top, http(s) links tracked, every other byte unchanged."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from read_receipts.links.rewriting import rewrite_html
from read_receipts.links.tokens import Tracker

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
