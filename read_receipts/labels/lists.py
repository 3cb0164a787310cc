"""Maintained lists of User-Agents matched as one set: machines' (crawler-user-agents, Matomo Device Detector's bots and HTTP libraries) and people's clients (Matomo's)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

import pcre2
import yaml
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from ua_parser_rs import DeviceExtractor

from read_receipts.labels import rules

CRAWLER_USER_AGENTS = "crawler-user-agents"
MATOMO = "matomo"
SOURCES = (CRAWLER_USER_AGENTS, MATOMO)
# Matomo's own bound around each bot regex: it starts a token, so "bot" inside a word is not a bot.
MATOMO_BOUND = r"(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)"
# A regex that opens with any run of word characters needs no bound (some position always starts the run),
# and without the run it cannot backtrack over it at every start: 500 underscores took 67 ms.
_WORD_RUN = "[a-z0-9_-]*"
_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_BAR = re.compile(r"(?<!\\)\|")  # an alternation's bar, not an escaped one
_LOOKBEHIND = re.compile(r"\(\?<!((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*)\)")


class PatternSet:
    """Many regexes matched at once; the Rust engine where a pattern's syntax allows, PCRE2 for the rest."""

    def __init__(self, named_patterns: Iterable[tuple[str, str, bool]]):
        fast, slow = [], []
        for name, pattern, ignore_case in named_patterns:
            if _LOOKAROUND.search(pattern):  # the Rust engine has no look-arounds
                slow.append(f"(?{'i' if ignore_case else ''}:{pattern})")
            else:
                fast.append((pattern, "i" if ignore_case else None, name, None, None))
        # ua-parser-rs's extractor matches a whole list through literal prefilters: microseconds, not 0.5 ms.
        self._fast = DeviceExtractor(fast)
        # Matomo writes its look-arounds for PCRE: PCRE2's compiled (JIT) matcher runs them about
        # 15 times faster than Python's re, 0.08 ms on 512 hostile characters instead of 1.3 ms.
        self._slow = pcre2.compile("|".join(slow)) if slow else None
        self.size = len(fast) + len(slow)

    def name_of(self, agent: str) -> str | None:
        """Return the name of a list entry that matches the User-Agent, or None."""
        found = self._fast.extract(agent)
        if found is not None:
            return found.family
        if self._slow is not None and self._slow.search(agent):
            return "?"
        return None


def crawler_patterns() -> list[tuple[str, str, bool]]:
    """The crawler-user-agents patterns, less those that also name people's apps and phones."""
    return [
        (f"{CRAWLER_USER_AGENTS}: {entry['pattern']}", entry["pattern"], False)
        for entry in CRAWLER_USER_AGENTS_DATA
        if entry["pattern"] not in rules.CRAWLER_LIST_EXCEPTIONS
    ]


def matomo_patterns(directory: Path | None = None) -> list[tuple[str, str, bool]]:
    """Matomo's bot regexes anywhere in a string, its library regexes only as the string's first product."""
    regexes = directory or _matomo_regexes()
    bots = [
        (f"{MATOMO} bot: {e['name']}", _bounded(_fixed_width(e["regex"])), True) for e in _yaml(regexes / "bots.yml")
    ]
    # An app that embeds a library names it later ("GoEuroAndroid/9.39 (...; okhttp/4.9.3)"): not a library's load.
    libraries = [
        (f"{MATOMO} library: {e['name']}", f"^(?:{_fixed_width(e['regex'])})", True)
        for e in _yaml(regexes / "client" / "libraries.yml")
    ]
    return bots + libraries


def _bounded(pattern: str) -> str:
    """Put Matomo's token bound before a bot regex, or drop a leading word run that makes the bound moot."""
    if pattern.startswith(_WORD_RUN):
        return pattern[len(_WORD_RUN) :]
    return f"{MATOMO_BOUND}(?:{pattern})"


def _matomo_regexes() -> Path:
    """Where the device-detector package keeps Matomo's upstream regexes (found without importing the package)."""
    spec = importlib.util.find_spec("device_detector")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("device-detector is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "regexes" / "upstream"


def _yaml(path: Path) -> list[dict]:
    """Read one of Matomo's YAML lists."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _fixed_width(pattern: str) -> str:
    """Split PCRE's `(?<!a|bc)` into `(?<!a)(?<!bc)`: Python's re takes only fixed-width look-behinds."""
    return _LOOKBEHIND.sub(lambda found: "".join(f"(?<!{part})" for part in _BAR.split(found.group(1))), pattern)


# Matomo's lists of people's clients: browsers, apps (on phones and desktops) and mail and calendar clients.
CLIENT_FILES = ("browsers.yml", "mobile_apps.yml", "pim.yml")
# Matomo's feed readers, as the first product (an app may name one it embeds): software that fetches, and
# that nobody reads mail in. Its media players are left out: phones' browsers name their media component
# ("NexPlayer/3.0") among their own tokens.
SOFTWARE_FILES = ("feed_readers.yml",)


def client_lists(files: tuple[str, ...] = CLIENT_FILES, directory: Path | None = None) -> PatternSet:
    """Matomo's regexes of some kinds of client, each with its token bound, as one set."""
    regexes = directory or _matomo_regexes()
    return PatternSet(client_patterns(files, regexes))


def machine_lists(sources: Iterable[str] = SOURCES) -> PatternSet:
    """Build one set from the named lists."""
    chosen = set(sources)
    patterns = crawler_patterns() if CRAWLER_USER_AGENTS in chosen else []
    return PatternSet(
        patterns + (matomo_patterns() + client_patterns(SOFTWARE_FILES, first=True) if MATOMO in chosen else [])
    )


def client_patterns(
    files: tuple[str, ...], directory: Path | None = None, first: bool = False
) -> list[tuple[str, str, bool]]:
    """Matomo's client regexes of some kinds (browsers, apps, feed readers, ...): anywhere, or as the first product."""
    regexes = directory or _matomo_regexes()
    return [
        (
            f"{MATOMO} {filename}: {e['name']}",
            f"^(?:{_fixed_width(e['regex'])})" if first else _bounded(_fixed_width(e["regex"])),
            True,
        )
        for filename in files
        for e in _yaml(regexes / "client" / filename)
    ]
