"""Who loaded the pixel: the mail client, and whether a person or a machine."""

from __future__ import annotations

import bisect
import ipaddress
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import ua_parser
from ua_parser import Domain

from read_receipts.labels import lists, rules

PERSON = "person"  # a person reading, also through Gmail's or Yahoo's image proxy
APPLE_PRELOAD = "apple_preload"  # Apple Mail Privacy Protection fetched the images on delivery
GMAIL_PREFETCH = "gmail_prefetch"  # Gmail fetched the images ahead of any reading
SCANNER = "scanner"  # a security gateway checking the message
AGENT = "agent"  # the team's own network (IGNORE_IPS)
BOT = "bot"  # any other machine
KINDS = (PERSON, APPLE_PRELOAD, GMAIL_PREFETCH, SCANNER, AGENT, BOT)
NOTABLE_KINDS = tuple(kind for kind in KINDS if kind != AGENT)  # the team's own loads are never noted

RANGES_DIR = Path(__file__).resolve().parent / "ranges"
RANGE_NAMES = ("apple", "microsoft", "scanners")  # the lists the classifier acts on, shipped and local
# A load this soon after the reply was sent is a scanner signal. Zendesk's
# timestamp placeholder drops the seconds, so "10 s" reads as up to 70 s.
QUICK_SECONDS = 70

# No client on any public corpus sends a longer User-Agent (the longest of 36,000 real ones is 492
# characters); a longer one is a machine's, and every rule then reads a bounded string.
MAX_AGENT_LENGTH = 512

# A client's string says each thing once: compressed, the real ones (36,000 of them) keep more than half
# their bytes. One fragment repeated to pad a string (a probe of every pattern) keeps a few percent.
PADDED_SHARE = 0.25
PADDED_FROM = 64  # characters; shorter strings compress poorly whatever they hold
# A client that names no system sends a short string (the longest in the corpora: 92 characters, GOG Galaxy's);
# a longer one is a program's without asking the list of clients, which is what costs most on such a string.
BARE_CLIENT_LENGTH = 128

# Exact strings: Apple's privacy proxy sends nothing more, and Gmail's prefetch
# is a fixed, odd string (Edge 12 with a second "Mozilla/5.0" at the end).
APPLE_MPP_AGENT = "Mozilla/5.0"
GMAIL_PREFETCH_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0"
)

VIA = {client: via for _, client, via in rules.PROXIES}
GUESSED_PHONE = "Generic Feature Phone"  # ua-parser's device for a string of no known shape
_CLIENT_NAMES = {name for _, name in rules.MAIL_CLIENTS}


@dataclass(frozen=True)
class Opener:
    """What loaded the pixel: a client name ('' when unknown) and a kind."""

    client: str
    kind: str
    via: str = ""  # how the client reached us, e.g. "through Google's image proxy"


class AddressRanges:
    """Named address ranges, searched by bisection over sorted, non-overlapping spans."""

    def __init__(self, named_networks: Iterable[tuple[str, str]]):
        spans: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for name, network in named_networks:
            net = ipaddress.ip_network(network, strict=False)
            spans[net.version].append((int(net.network_address), int(net.broadcast_address), name))
        self._starts, self._spans = {}, {}
        for version, found in spans.items():
            kept = _without_overlaps(sorted(found))
            self._spans[version] = kept
            self._starts[version] = [start for start, _, _ in kept]

    def __len__(self) -> int:
        return sum(len(spans) for spans in self._spans.values())

    def name_of(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> str | None:
        """Return the name of the range holding an address (text or parsed), or None."""
        ip = address if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_address(address)
        if ip is None:
            return None
        number = int(ip)
        index = bisect.bisect_right(self._starts[ip.version], number) - 1
        if index >= 0:
            start, end, name = self._spans[ip.version][index]
            if start <= number <= end:
                return name
        return None


@lru_cache(maxsize=4096)
def parse_address(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse a client address; IPv4-mapped IPv6 counts as IPv4; None when unreadable (a flood comes from few)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip


def _without_overlaps(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Trim sorted spans so none overlaps the one before (the earlier name wins)."""
    kept: list[tuple[int, int, str]] = []
    for start, end, name in spans:
        if kept and start <= kept[-1][1]:
            if end <= kept[-1][1]:
                continue
            start = kept[-1][1] + 1
        kept.append((start, end, name))
    return kept


def load_ranges(directory: Path | None = None, local: Path | None = None) -> AddressRanges:
    """Read the shipped range files, and the local ones added to them: one network per line, named after the file."""
    named = []
    for folder in (directory or RANGES_DIR, local):
        for path in sorted(folder.glob("*.txt")) if folder is not None and folder.is_dir() else ():
            if path.stem not in RANGE_NAMES:
                continue  # a name the classifier does not act on
            for line in path.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    named.append((path.stem, line))
    return AddressRanges(named)


class Classifier:
    """Labels each pixel load; what a User-Agent alone says is worked out once per string."""

    def __init__(self, ranges: AddressRanges, own_networks: AddressRanges):
        self.ranges = ranges
        self.own_networks = own_networks

    def prepare(self) -> None:
        """Build the User-Agent parser and the maintained lists now, so that the first loads labelled do not wait on them."""
        _machine_lists()
        _parsed("Mozilla/5.0 (prepare)")

    def classify(self, user_agent: str | None, ip: str | None, seconds_after_send: float | None = None) -> Opener:
        """Name the client and the kind of a load."""
        agent = (user_agent or "").strip()
        address = parse_address(ip)  # parsed once for both lookups
        client = _client_of(agent[:MAX_AGENT_LENGTH])
        if self.own_networks.name_of(address):
            return Opener(client, AGENT)
        if len(agent) > MAX_AGENT_LENGTH:
            return Opener(client, BOT)
        known = _by_agent(agent)
        if known is not None:
            return known
        place = self.ranges.name_of(address)
        if place == "apple" and client in ("", "Apple Mail"):
            return Opener("Apple Mail", APPLE_PRELOAD)
        protection = place in ("microsoft", "scanners")  # mail-protection networks
        if protection and client not in _CLIENT_NAMES:
            return Opener(client, SCANNER)
        quick = seconds_after_send is not None and 0 <= seconds_after_send < QUICK_SECONDS
        if quick and (protection or not client):  # two signals: seconds after sending, and a machine's address or agent
            return Opener(client, SCANNER)
        return Opener(client, BOT if _is_machine(agent) else PERSON)


# Maintained lists of named crawlers, bots and HTTP libraries (crawler-user-agents, Matomo's), as one set.
# Built on first use, in the courier: a request worker that only spools opens never pays its memory.
MACHINE_LISTS: lists.PatternSet | None = None


def _machine_lists() -> lists.PatternSet:
    """The maintained lists, built once per process."""
    global MACHINE_LISTS
    if MACHINE_LISTS is None:
        MACHINE_LISTS = lists.machine_lists()
    return MACHINE_LISTS


# Matomo's list of people's clients (browsers, apps, mail clients), built on first use like the machine lists.
CLIENT_LISTS: lists.PatternSet | None = None


def _client_lists() -> lists.PatternSet:
    """The list of people's clients, built once per process."""
    global CLIENT_LISTS
    if CLIENT_LISTS is None:
        CLIENT_LISTS = lists.client_lists()
    return CLIENT_LISTS


@lru_cache(maxsize=4096)
def _by_agent(agent: str) -> Opener | None:
    """Apply the rules that the User-Agent alone decides: padding, preloads, prefetches, proxies, scanners."""
    if _padded(agent):  # before the proxies: no proxy pads its fixed string with itself
        return Opener(_client_of(agent), BOT)
    if agent == APPLE_MPP_AGENT:
        return Opener("Apple Mail", APPLE_PRELOAD)
    if agent == GMAIL_PREFETCH_AGENT or rules.GMAIL_SAMPLING.search(agent):
        return Opener("Gmail", GMAIL_PREFETCH)
    for pattern, client, via in rules.PROXIES:
        if pattern.search(agent):
            return Opener(client, PERSON, via)
    scanner = rules.SCANNER_AGENTS.search(agent)
    if scanner:
        return Opener(scanner.group(0), SCANNER)
    return None


@lru_cache(maxsize=4096)
def _is_machine(agent: str) -> bool:
    """Whether a User-Agent carries a machine's evidence; a mail client's own token outranks it."""
    if _mail_client(agent) or not agent:
        return False
    return bool(
        rules.BOT_TOKEN.search(rules.PHONE_MODELS.sub("", agent))
        or rules.CONTACT.search(agent)
        or (rules.CONTACT_URL.search(agent) and not rules.HOMEPAGE_OF_APP.search(agent))
        or rules.LIBRARIES.search(agent)
        or rules.MACHINE_PRODUCTS.search(agent)
        or rules.MACHINE_TOOLS.search(agent)
        or (rules.RUNTIME_COMMENT.search(agent) and not rules.PERSONAL_DEVICE.search(agent))
        or rules.NAMED_IN_ENGINE.search(agent)
        or rules.GOOGLE_FETCHER.search(agent)
        or _machine_lists().name_of(agent) is not None
        or _parsed(agent) == ("Other", "Spider")  # the parser's Spider alone is weak: it also names real IE11s
        or _library_shaped(agent)
        or _names_no_product(agent)
        or _names_no_known_client(agent)
    )


def _padded(agent: str) -> bool:
    """Whether a User-Agent is mostly one fragment repeated."""
    data = agent.encode()
    return len(data) >= PADDED_FROM and len(zlib.compress(data, 1)) < PADDED_SHARE * len(data)


def _names_no_product(agent: str) -> bool:
    """Whether a User-Agent names no browser, app, mail client or proxy: an injection payload, a command, noise."""
    if _parsed(agent)[0] not in ("", "Other"):
        return False
    return not rules.PRODUCT_START.match(agent) or bool(rules.CODE.search(agent))


def _names_no_known_client(agent: str) -> bool:
    """Whether a User-Agent names no system, and no browser, app or mail client that ua-parser or Matomo knows.

    A person reads mail in a client that says what it runs on or that the lists of clients know; a bare
    name ("YandeG 1.03", "Whibse") is a program's.
    """
    if rules.PLATFORM.search(rules.COMPATIBLE.sub("(", agent)) or rules.SELF_NAMED_CLIENT.search(agent):
        return False
    family, device = _parsed(agent)
    if family not in ("", "Other") or device not in ("", "Other"):
        return False
    return len(agent) > BARE_CLIENT_LENGTH or _client_lists().name_of(agent) is None


def _library_shaped(agent: str) -> bool:
    """Whether a User-Agent is only `product/version` tokens that the parser names no browser, app or device in."""
    if not rules.LIBRARY_SHAPE.match(agent) or rules.PLAIN_BROWSERS.search(agent) or rules.PLATFORM.search(agent):
        return False
    family, device = _parsed(agent)  # phones send bare "HTC_Desire_C/1.46.111.4": the parser names the device
    # ...but its "Generic Feature Phone" is a guess from the shape alone ("WebClient/1.0" gets it too).
    return family in ("", "Other") and device in ("", "Other", GUESSED_PHONE)


@lru_cache(maxsize=4096)
def _mail_client(agent: str) -> str | None:
    """Name the mail client whose own token is in a User-Agent, or None."""
    decoded = unquote(agent) if "%" in agent else agent  # apps on Apple's CFNetwork send "Yahoo%20Mail"
    if not rules.ANY_MAIL_CLIENT.search(decoded):
        return None
    named = rules.CRAWLER_COMMENT.sub(_crawler_comment_out, rules.ADDRESSES.sub(" ", decoded))
    for pattern, client in rules.MAIL_CLIENTS:
        if pattern.search(named):
            return client
    return None


def _crawler_comment_out(found: re.Match) -> str:
    """Drop a "(compatible; ...)" comment that names no system: a crawler's, whatever name it takes."""
    return found.group(0) if rules.PLATFORM.search(found.group(1)) else " "


@lru_cache(maxsize=4096)
def _client_of(agent: str) -> str:
    """Name the mail client or browser of a User-Agent ('' when unknown), never a parser's engine name."""
    client = _mail_client(agent)
    if client is not None:
        return client
    family, _ = _parsed(agent)
    if family in ("", *rules.ENGINE_NAMES) and rules.APPLE_MAIL.search(agent):
        return "Apple Mail"  # WebKit without Safari's tokens is Mail's own view
    if family == "Electron":
        app = rules.ELECTRON_APP.search(agent)
        return unquote(app.group(1)) if app else ""
    return "" if family in rules.ENGINE_NAMES else unquote(family)


@lru_cache(maxsize=4096)
def _parsed(agent: str) -> tuple[str, str]:
    """Return ua-parser's user-agent family and device family."""
    if not agent:
        return "", ""
    result = ua_parser.parser(agent, Domain.USER_AGENT | Domain.DEVICE)  # the system's name is not needed
    family = result.user_agent.family if result.user_agent else ""
    device = result.device.family if result.device else ""
    return family, device


# Where `flask --app app refresh-ranges` fetches each shipped range file.
RANGE_SOURCES = {
    "apple": "https://mask-api.icloud.com/egress-ip-ranges.csv",
    # Microsoft 365's endpoints web service (JSON); only Exchange Online Protection's entries are kept.
    "microsoft": "https://endpoints.office.com/endpoints/worldwide?clientrequestid=b10c5ed1-bad1-445f-b386-b919946339a7",
}
EOP_URL = "mail.protection.outlook.com"
_NETWORK = re.compile(r"[0-9A-Fa-f:.]+/\d{1,3}")


def networks_in(text: str) -> list[str]:
    """Find every CIDR network in a downloaded list (CSV, JSON or plain), collapsed."""
    found: dict[int, list] = {4: [], 6: []}
    for candidate in _NETWORK.findall(_exchange_protection_ips(text)):
        try:
            network = ipaddress.ip_network(candidate, strict=False)
        except ValueError:
            continue
        found[network.version].append(network)
    return [str(net) for version in (4, 6) for net in ipaddress.collapse_addresses(found[version])]


def _exchange_protection_ips(text: str) -> str:
    """From Microsoft's endpoints JSON keep the mail-protection entries' addresses; other text as it is."""
    if not text.lstrip().startswith("["):
        return text
    try:
        entries = json.loads(text)
    except ValueError:
        return text
    if not all(isinstance(entry, dict) and "serviceArea" in entry for entry in entries):
        return text
    # Outlook on the web's servers are left out: its image proxy carries real reads.
    protection = [
        entry
        for entry in entries
        if entry["serviceArea"] == "Exchange" and any(EOP_URL in url for url in entry.get("urls", []))
    ]
    return "\n".join(ip for entry in protection for ip in entry.get("ips", []))


def write_ranges(name: str, networks: list[str], source: str, day: str, directory: Path) -> Path:
    """Write one local range file (added to the shipped one of its name), with where and when it came from."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.txt"
    header = f"# {name}: {len(networks)} networks from {source}, fetched {day} by `flask --app app refresh-ranges`.\n"
    path.write_text(header + "\n".join(networks) + "\n")
    return path
