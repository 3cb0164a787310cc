"""Tracking links against pytracking on the same inputs, in the same run: URL length, speed, HTML rewriting.

A campaign rewrites one email per recipient (each copy's links carry that recipient's metadata): this
package parses the email once (prepare_html) and signs each copy (Template.render); pytracking has no such
split, so each of its copies is a whole adapt_html. Both make the same number of copies.

Times are CPU time of this process (time.process_time), what a sender pays for, and steadier than the
wall clock on a machine shared with other work.

pytracking is installed in the bench environment only (it is not a dependency):

    python3 -m venv bench/.venv && bench/.venv/bin/pip install -r requirements.txt "pytracking[crypto,html]"
    bench/.venv/bin/python bench/tracking_bench.py
"""

from __future__ import annotations

import re
import sys
import time
import timeit
from pathlib import Path

import pytracking
from cryptography.fernet import Fernet
from pytracking.html import adapt_html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from read_receipts.links.rewriting import prepare_html, rewrite_html  # noqa: E402
from read_receipts.links.tokens import Tracker  # noqa: E402

BASE = "https://pixel.example.com"
META = {
    "ticket_id": 4821,
    "recipient": "ann.example@example.com",
    "campaign": "november-renewal",
    "message_id": "m-8f3a2c",
}
TARGET = "https://help.example.com/hc/en-us/articles/360012345-How-to-renew?utm_source=email&utm_medium=reply"
KEY = "k" * 43
FERNET = Fernet.generate_key()
COPIES = 40  # recipients per campaign measurement of a 100 KB email
SMALL_COPIES = 1000  # of the transactional email
# A receipt-sized transactional email: about 1 KB, five links.
TRANSACTIONAL = """<!doctype html><html><head><meta charset="utf-8"><title>Your order</title></head>
<body style="font-family:sans-serif"><p>Hi Ann,</p><p>Your order <b>#10293</b> has shipped and should arrive on
Thursday. You can <a href="https://shop.example.com/orders/10293?utm_source=email">follow the parcel</a> or
<a href="https://shop.example.com/orders/10293/invoice.pdf">download the invoice</a>.</p>
<p>Questions? See <a href="https://help.example.com/hc/en-us/articles/360012345-Delivery">delivery help</a> or
<a href="mailto:help@example.com">write to us</a>.</p><table role="presentation" width="100%"><tr><td>
<a href="https://shop.example.com/account" style="color:#0366d6">Your account</a> &middot;
<a href="https://shop.example.com/unsubscribe?u=8f3a2c">Email preferences</a></td></tr></table>
<p style="color:#777;font-size:12px">Example Shop Ltd, 1 High Street, Exampletown</p></body></html>"""


def email_of(size: int, distinct: bool = False) -> str:
    """A realistic HTML email of about `size` characters, built from the test newsletter; `distinct`: no link repeats."""
    block = (ROOT / "tests" / "data" / "newsletter.html").read_text()
    head, body = block.split("<body", 1)
    body_open, rest = body.split(">", 1)
    inner = rest.rsplit("</body>", 1)[0]
    copies = max(1, size // len(inner))
    blocks = [
        re.sub(r"(https://(?:help\.)?example\.com/)", rf"\g<1>{n}/", inner) if distinct else inner
        for n in range(copies)
    ]
    return f"{head}<body{body_open}>{''.join(blocks)}</body></html>"


def recipients(count: int) -> list[dict]:
    """Metadata of `count` recipients of one campaign."""
    return [{**META, "recipient": f"reader-{n}@example.com", "message_id": f"m-{n:06x}"} for n in range(count)]


def template_copies(document: str, tracker: Tracker, readers: list[dict]) -> list[str]:
    """Parse once, sign one copy per reader."""
    template = prepare_html(document)
    return [template.render(tracker, meta) for meta in readers]


def campaign_ms(make_copies, copies: int) -> float:
    """Best of five: milliseconds of CPU per copy when making `copies` copies."""
    timings = []
    for _ in range(5):
        started = time.process_time()
        made = make_copies()
        timings.append(time.process_time() - started)
        assert len(made) == copies
    return min(timings) / copies * 1000


def per_call_us(function, number: int) -> float:
    """Best of five timings, microseconds of CPU per call."""
    return min(timeit.Timer(function, timer=time.process_time).repeat(number=number, repeat=5)) / number * 1e6


def row(name: str, ours: float, theirs: float, unit: str) -> None:
    """Print one comparison line."""
    print(f"{name:<58} {ours:>10.1f} {theirs:>12.1f} {unit:<6} {ours / theirs:>6.2f}x")


def main() -> None:
    """Measure and print."""
    signed = Tracker(BASE, (KEY,))
    sealed = Tracker(BASE, (KEY,), (FERNET.decode(),))
    plain_config = pytracking.Configuration(base_open_tracking_url=BASE + "/o/", base_click_tracking_url=BASE + "/c/")
    crypt_config = pytracking.Configuration(
        base_open_tracking_url=BASE + "/o/", base_click_tracking_url=BASE + "/c/", encryption_bytestring_key=FERNET
    )
    print(f"{'':<58} {'this':>10} {'pytracking':>12} {'':<6} {'ratio':>6}")
    print("URL length, same metadata (characters)")
    row(
        "  open URL, signed / plain",
        len(signed.open_url(META)),
        len(pytracking.get_open_tracking_url(META, plain_config)),
        "chars",
    )
    row(
        "  click URL, signed / plain",
        len(signed.click_url(TARGET, META)),
        len(pytracking.get_click_tracking_url(TARGET, META, plain_config)),
        "chars",
    )
    row(
        "  open URL, encrypted",
        len(sealed.open_url(META)),
        len(pytracking.get_open_tracking_url(META, crypt_config)),
        "chars",
    )
    row(
        "  click URL, encrypted",
        len(sealed.click_url(TARGET, META)),
        len(pytracking.get_click_tracking_url(TARGET, META, crypt_config)),
        "chars",
    )
    print("speed (lower is better)")
    row(
        "  make a click URL, signed / plain",
        per_call_us(lambda: signed.click_url(TARGET, META), 5000),
        per_call_us(lambda: pytracking.get_click_tracking_url(TARGET, META, plain_config), 5000),
        "us",
    )
    ours_token = signed.click_url(TARGET, META).split("/c/")[1]
    theirs_url = pytracking.get_click_tracking_url(TARGET, META, plain_config)
    row(
        "  decode a click URL, signed / plain",
        per_call_us(lambda: signed.decode(ours_token), 5000),
        per_call_us(lambda: pytracking.get_click_tracking_result(theirs_url, configuration=plain_config), 5000),
        "us",
    )
    sealed_token = sealed.click_url(TARGET, META).split("/c/")[1]
    theirs_sealed = pytracking.get_click_tracking_url(TARGET, META, crypt_config)
    row(
        "  decode a click URL, encrypted",
        per_call_us(lambda: sealed.decode(sealed_token), 2000),
        per_call_us(lambda: pytracking.get_click_tracking_result(theirs_sealed, configuration=crypt_config), 2000),
        "us",
    )
    email = email_of(100_000)
    links = email.count("<a ")
    row(
        f"  rewrite a {len(email) // 1000} KB email ({links} links)",
        per_call_us(lambda: rewrite_html(email, signed, META), 5) / 1000,
        per_call_us(lambda: adapt_html(email, META, configuration=plain_config), 5) / 1000,
        "ms",
    )
    print("a campaign: a copy per recipient, each with its metadata (time per copy, the parse included)")
    distinct = email_of(100_000, distinct=True)
    for name, document, readers, unit, scale in (
        (f"{len(email) // 1000} KB email, {links} links", email, recipients(COPIES), "ms", 1),
        (f"{len(distinct) // 1000} KB email, {links} links, none repeated", distinct, recipients(COPIES), "ms", 1),
        (f"{len(TRANSACTIONAL) / 1000:.1f} KB email, 5 links", TRANSACTIONAL, recipients(SMALL_COPIES), "us", 1000),
    ):
        row(
            f"  {name}, {len(readers)} copies",
            campaign_ms(lambda d=document, r=readers: template_copies(d, signed, r), len(readers)) * scale,
            campaign_ms(
                lambda d=document, r=readers: [adapt_html(d, m, configuration=plain_config) for m in r], len(readers)
            )
            * scale,
            unit,
        )
    kept = email.splitlines()[0] in rewrite_html(email, signed, META)
    theirs_kept = email.splitlines()[0] in adapt_html(email, META, configuration=plain_config)
    print(f"doctype line kept as it was: this {kept}, pytracking {theirs_kept}")


if __name__ == "__main__":
    main()
