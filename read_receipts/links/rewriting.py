"""Add tracking to an HTML email: the open pixel, and click links, changing nothing else.

Only two kinds of edit are made, at exact character offsets found by the standard
library's HTML parser: an <img> after <body ...> (or before </body>), and the value
of each http(s) href. Doctype, charset, comments, conditional comments, whitespace,
attribute order and quoting stay byte for byte as they were.

A campaign parses its email once (prepare_html) and renders a copy per recipient
(Template.render): each copy costs only its signatures and one join.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser

from read_receipts.links.tokens import Target, TargetError, Tracker

PIXEL_TAG = '<img src="{url}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
NO_TRACK = "data-no-track"  # <a href="..." data-no-track> is left alone
# One attribute of a start tag: name, then an optional value in any quoting.
_ATTRIBUTE = re.compile(r"""\s*([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


class Pixel(StrEnum):
    """Where the open pixel goes."""

    TOP = "top"  # right after <body ...>, or first when there is none
    BOTTOM = "bottom"  # right before </body>, or last
    NONE = "none"


@dataclass(frozen=True)
class Template:
    """An email parsed once: the text it keeps, and between those pieces the links and pixel each copy signs."""

    pieces: tuple[str, ...]  # kept text, one more than slots
    slots: tuple[Target | None, ...]  # a click link to the target, or None for the open pixel

    def render(self, tracker: Tracker, meta: dict, expires_in: float | None = None) -> str:
        """Return one recipient's copy: every link and the pixel signed with `meta`."""
        links = tracker.links_for(meta, expires_in)
        signed: dict[Target | None, str] = {}  # a copy's links to one target are one signed URL
        parts = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            text = signed.get(slot)
            if text is None:
                text = signed[slot] = PIXEL_TAG.format(url=links.open_url()) if slot is None else links.click_url(slot)
            parts += (text, piece)
        return "".join(parts)


def prepare_html(document: str, pixel: str | Pixel = "top", links: bool = True) -> Template:
    """Parse an email once for many copies: the pixel (pixel="top", "bottom" or "none"), and tracked links."""
    try:
        pixel = Pixel(pixel)
    except ValueError:
        raise ValueError('pixel must be "top", "bottom" or "none"') from None
    finder = _Finder(document)
    edits: list[tuple[int, int, Target | None]] = []  # (start, end, what goes there) in the original text
    if links:
        edits += [(start, end, target) for start, end, raw in finder.hrefs if (target := _target(raw)) is not None]
    if pixel is not Pixel.NONE:
        at = finder.body_start if pixel is Pixel.TOP else finder.body_end
        at = (0 if pixel is Pixel.TOP else len(document)) if at is None else at
        edits.append((at, at, None))
    edits.sort(key=lambda edit: edit[:2])
    pieces, kept_from = [], 0
    for start, end, _ in edits:
        pieces.append(document[kept_from:start])
        kept_from = end
    pieces.append(document[kept_from:])
    return Template(tuple(pieces), tuple(slot for _, _, slot in edits))


def rewrite_html(document: str, tracker: Tracker, meta: dict, pixel: str | Pixel = "top", links: bool = True) -> str:
    """Return the email with an open pixel (pixel="top", "bottom" or "none") and tracked links."""
    return prepare_html(document, pixel, links).render(tracker, meta)


def _target(raw_value: str) -> Target | None:
    """Return the click target of an href's raw value, or None to leave it alone."""
    target = html.unescape(raw_value)
    if not target.lower().startswith(("http://", "https://")):
        return None  # mailto:, tel:, #anchors, relative links
    try:
        return Target.checked(target)
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
