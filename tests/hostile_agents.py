"""User-Agents built to make labelling slow: long runs, many tokens, deep parentheses, and strings aimed at each pattern."""

from __future__ import annotations

from read_receipts.labels.openers import MAX_AGENT_LENGTH

# One character of each class a pattern may loop over, including a non-ASCII letter and a control character.
CHARACTERS = "a", "Z", "0", "_", "-", ".", "/", ";", " ", "(", ")", "%", "@", "+", ":", "é", "\t", "<", "'", '"'
# Fragments aimed at the patterns that remain: the bound and word runs of Matomo's generic bots, the
# look-behinds before "bot", "fetch", "proxy", "scanner", the engine comment, e-mail contacts, encoded
# names, product/version runs, Electron's app before Chrome, WebKit without Safari, web addresses, and
# the mail-client and proxy patterns still on Python's re (a literal, then a run to the end).
FRAGMENTS = (
    "_", "cubot ", "Hubot ", "power bot ", "m_bot", "node-fetch", "electron-fetch", "Mikrotik/6.x fetch",
    "Google Wap proxy", "Camscanner", "-security", "spider 8", "zealot", "Daum", "HTC_Butterfly/",
    "(KHTML, like Gecko; ", "like Gecko) ", "a@b", "a@b.c", "(at)", "%4", "%41", "a/1 ", "a/1.", "a/",
    "Chrome/", "(KHTML, like Gecko) a ", "AppleWebKit/1 (KHTML, like Gecko) ", "http://", "www.", "Google-",
    "Mozilla/5.0 (", "; ", "Windows", "iPhone", "Browser", "Thunderbird", "Outlook-", "ms-office", "MSOffice ",
    "Technology Preview", "Preview", "monitor", "seo", "bot", "Bot", "spider", "crawler", "(" * 8, ")" * 8,
    "ExchangeWebServices/1 ", "Outlook/1 ", "Mail/1 CFNetwork/", "GoogleImageProxy", "' or ", "${", "\x00",
)  # fmt: skip


def _filled(fragment: str, length: int = MAX_AGENT_LENGTH) -> str:
    """Repeat a fragment to exactly `length` characters."""
    return (fragment * (length // len(fragment) + 1))[:length]


def _distinct_words(seed: int, length: int = MAX_AGENT_LENGTH) -> str:
    """Distinct made-up product names and versions, naming no system: padding does not catch them, so every
    rule runs to the last one, the lists of people's clients included."""
    words, state = [], seed
    while sum(len(word) + 1 for word in words) < length:
        state = (state * 1103515245 + 12345) % 2**31  # a fixed sequence: the same strings in every run
        name = "".join(chr(ord("a") + (state >> shift) % 26) for shift in range(0, 24, 4)).capitalize()
        words.append(name + ("/1.2", " 3.4", "_x", "")[state % 4])
    return " ".join(words)[:length]


def hostile_agents() -> list[str]:
    """Every adversarial User-Agent, each unique so that no verdict cache can hide its cost."""
    agents = ["_" * 500 + "u1"]  # the string
    agents += [_filled(character) for character in CHARACTERS]
    agents += [_filled(fragment) for fragment in FRAGMENTS]
    agents += [_filled(fragment, MAX_AGENT_LENGTH - 1) + "!" for fragment in FRAGMENTS]  # a failing last character
    agents += ["(" * 256 + ")" * 256, "(" * 511 + "x", "Mozilla/5.0 " + _filled("(a; ", 500)]
    agents += ["a/1 " * 120 + "x" * 32, _filled("a ") + "/", _filled("Mozilla/5.0 (X11; ")]
    agents += [_filled(c) * 16 for c in "a_("]  # far past the limit: 8,192 characters
    agents += [_distinct_words(seed) for seed in range(8)]
    return list(dict.fromkeys(agents))
