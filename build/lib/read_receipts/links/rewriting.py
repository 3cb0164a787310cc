"""Add tracking to an HTML email: the open pixel, and click links, changing nothing else.

Only two kinds of edit are made, at exact character offsets found by the standard
library's HTML parser: an <img> after <body ...> (or before </body>), and the value
of each http(s) href. Doctype, charset, comments, conditional comments, whitespace,
attribute order and quoting stay byte for byte as they were.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from read_receipts.links.tokens import TargetError, Tracker

PIXEL_TAG = '<img src="{url}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
NO_TRACK = "data-no-track"  # <a href="..." data-no-track> is left alone
# One attribute of a start tag: name, then an optional value in any quoting.
_ATTRIBUTE = re.compile(r"""\s*([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


def rewrite_html(document: str, tracker: Tracker, meta: dict, pixel: str = "top", links: bool = True) -> str:
    """Return the email with an open pixel (pixel="top", "bottom" or "none") and tracked links."""
    if pixel not in ("top", "bottom", "none"):
        raise ValueError('pixel must be "top", "bottom" or "none"')
    finder = _Finder(document)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original text
    if links:
        edits += [(start, end, _click(tracker, meta, raw)) for start, end, raw in finder.hrefs]
        edits = [edit for edit in edits if edit[2] is not None]
    if pixel != "none":
        at = finder.body_start if pixel == "top" else finder.body_end
        at = (0 if pixel == "top" else len(document)) if at is None else at
        edits.append((at, at, PIXEL_TAG.format(url=tracker.open_url(meta))))
    for start, end, replacement in sorted(edits, reverse=True):
        document = document[:start] + replacement + document[end:]
    return document


def _click(tracker: Tracker, meta: dict, raw_value: str) -> str | None:
    """Return the click URL for an href's raw value, or None to leave it alone."""
    target = html.unescape(raw_value)
    if not target.lower().startswith(("http://", "https://")):
        return None  # mailto:, tel:, #anchors, relative links
    try:
        return tracker.click_url(target, meta)
    except TargetError:
        return None  # not a URL we would redirect to: better untracked than broken


class _Finder(HTMLParser):
    """Finds where the pixel goes and where each trackable href value sits."""

    def __init__(self, document: str):
        super().__init__(convert_charrefs=False)
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", document)]
        self.hrefs: list[tuple[int, int, str]] = []
        self.body_start: int | None = None
        self.body_end: int | None = None
        self.feed(document)
        self.close()

    def _offset(self) -> int:
        """The current tag's offset in the document."""
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list) -> None:
        raw = self.get_starttag_text() or ""
        start = self._offset()
        if tag == "body" and self.body_start is None:
            self.body_start = start + len(raw)
        if tag == "a" and not any(name == NO_TRACK for name, _ in attrs):
            href = _href_span(raw)
            if href is not None:
                self.hrefs.append((start + href[0], start + href[1], raw[href[0] : href[1]]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self._offset()


def _href_span(raw_tag: str) -> tuple[int, int] | None:
    """Find the value of the first href attribute in a raw start tag, walking attribute by attribute."""
    position = re.match(r"<[^\s/>]*", raw_tag).end()  # past "<a"
    while True:
        match = _ATTRIBUTE.match(raw_tag, position)
        if not match or match.end() == position:
            return None
        if match.group(1).lower() == "href":
            group = next((i for i in (2, 3, 4) if match.group(i) is not None), None)
            return None if group is None else (match.start(group), match.end(group))
        position = match.end()
