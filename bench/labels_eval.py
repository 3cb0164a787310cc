"""How the labels hold on whole public User-Agent corpora: the share of each kind, and the rows that cross the note line.

The corpora are public test fixtures kept outside the project (see ../shared/corpora/README.md). Each
row's truth comes from its corpus: a crawler list or a bot fixture holds machines, a browser, device, app
or mail-client fixture holds people (feed readers and media players are software, counted apart). Every
string is classified from an ordinary residential address, with no timing signal, so only the
User-Agent speaks:

    .venv/bin/python bench/labels_eval.py                 # the table
    .venv/bin/python bench/labels_eval.py --show 20       # and up to 20 crossing rows per corpus
    .venv/bin/python bench/labels_eval.py --lists matomo  # with only one maintained list (a cross-check)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ua_parser import parse as parse_user_agent  # noqa: E402

from read_receipts.labels import lists, openers  # noqa: E402
from read_receipts.labels.openers import PERSON, AddressRanges, Classifier, load_ranges  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
RESIDENTIAL = "203.0.113.9"
MACHINE, PEOPLE, SOFTWARE, PROXY = "machine", "person", "software", "proxy"
# Matomo's fixtures: where a client type puts a row.
MATOMO_TRUTH = {"browser": PEOPLE, "mobile app": PEOPLE, "pim": PEOPLE, "library": MACHINE}
# Matomo lists webmail image proxies as bots; each one carries a person's real read.
MAIL_PROXIES = ("Image Proxy", "Mail Proxy", "Email Proxy")
# Machines that Matomo files among browsers and apps: headless engines (Lightpanda is one, for
# automation), Office's discovery request, a vulnerability scanner, software updaters, a media
# server and Power Query's data fetcher. Nobody reads mail in one.
MACHINES_AMONG_PEOPLE = (
    "Headless", "Lightpanda", "Existence Discovery", "OpenVAS", "Updater", "MediaServer", "Microsoft.Data.Mashup",
)  # fmt: skip
MATOMO = "matomo_Tests_"
CORPUS_FILES = {
    "crawler-user-agents": "crawler-user-agents.json",
    "matomo bots": f"{MATOMO}fixtures_bots.yml",
    "matomo library": f"{MATOMO}Parser_Client_fixtures_library.yml",
    "matomo browser": f"{MATOMO}Parser_Client_fixtures_browser.yml",
    "matomo mobile_app": f"{MATOMO}Parser_Client_fixtures_mobile_app.yml",
    "matomo pim (mail clients)": f"{MATOMO}Parser_Client_fixtures_pim.yml",
    "matomo desktop": f"{MATOMO}fixtures_desktop.yml",
    "matomo smartphone": f"{MATOMO}fixtures_smartphone.yml",
    "matomo smartphone-5": f"{MATOMO}fixtures_smartphone-5.yml",
    "matomo tablet": f"{MATOMO}fixtures_tablet.yml",
    "matomo mobile_apps": f"{MATOMO}fixtures_mobile_apps.yml",
    "matomo feed_reader": f"{MATOMO}fixtures_feed_reader.yml",
    "matomo mediaplayer": f"{MATOMO}fixtures_mediaplayer.yml",
    "uap-core test_ua": "uap-core_tests_test_ua.yaml",
    "uap-core test_device": "uap-core_tests_test_device.yaml",
}


def rows_of(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (User-Agent, truth) for every row of one corpus file."""
    if path.suffix == ".json":
        for entry in json.loads(path.read_text()):
            for agent in entry.get("instances", []):
                yield agent, MACHINE
        return
    document = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if isinstance(document, dict):  # uap-core: its own Spider verdict is the only truth it gives
        for case in document["test_cases"]:
            agent = str(case["user_agent_string"])
            yield agent, MACHINE if _uap_device(agent) == "Spider" else PEOPLE
        return
    for entry in document:
        yield str(entry["user_agent"]), _matomo_truth(entry)


def _matomo_truth(entry: dict) -> str:
    """Say what one Matomo fixture row is: a bot, a library, a person's client, or other software."""
    if "bot" in entry:
        name = entry["bot"].get("name", "")
        return PROXY if any(word in name for word in MAIL_PROXIES) else MACHINE
    client = entry.get("client") or {}
    if any(name in entry["user_agent"] for name in MACHINES_AMONG_PEOPLE):
        return MACHINE
    return MATOMO_TRUTH.get(client.get("type", ""), SOFTWARE)


def _uap_device(agent: str) -> str:
    """Return ua-parser's device family for a string."""
    result = parse_user_agent(agent)
    return result.device.family if result.device else ""


def evaluate(classifier: Classifier, rows: list[tuple[str, str]]) -> tuple[Counter, list[tuple[str, str, str]]]:
    """Count the kinds given to the rows, and list the rows whose label crosses the note line."""
    kinds: Counter = Counter()
    crossing = []
    for agent, truth in rows:
        opener = classifier.classify(agent, RESIDENTIAL)
        kinds[(truth, opener.kind)] += 1
        noted = opener.kind == PERSON
        if (truth in (MACHINE, SOFTWARE) and noted) or (truth in (PEOPLE, PROXY) and not noted):
            crossing.append((truth, opener.kind, agent))
    return kinds, crossing


def share(kinds: Counter, truths: tuple[str, ...], noted: bool) -> str:
    """Percentage of rows of the given truths that are (or are not) labelled person."""
    total = sum(n for (truth, _), n in kinds.items() if truth in truths)
    hits = sum(n for (truth, kind), n in kinds.items() if truth in truths and (kind == PERSON) == noted)
    return f"{100 * hits / total:.1f}% ({hits}/{total})" if total else "-"


def use_lists(sources: list[str]) -> None:
    """Have the classifier use only some maintained lists: each list measured on the other project's corpus."""
    unknown = set(sources) - set(lists.SOURCES)
    if unknown:
        raise SystemExit(f"unknown lists {sorted(unknown)}; known: {', '.join(lists.SOURCES)}")
    openers.MACHINE_LISTS = lists.machine_lists(sources)
    openers._is_machine.cache_clear()


def main() -> None:
    """Print, per corpus, the share labelled each kind and the rows that cross the note line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--show", type=int, default=0, help="crossing rows to print per corpus")
    parser.add_argument(
        "--lists", default=",".join(lists.SOURCES), help="maintained lists to use, comma-separated (none: '')"
    )
    args = parser.parse_args()
    use_lists([name for name in args.lists.split(",") if name])
    classifier = Classifier(load_ranges(), AddressRanges([]))
    print("| corpus | rows | person | bot | scanner | other | machines as person | people as machine |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    crossings = {}
    for name, filename in CORPUS_FILES.items():
        rows = list(rows_of(args.corpora / filename))
        kinds, crossings[name] = evaluate(classifier, rows)
        by_kind = Counter()
        for (_, kind), n in kinds.items():
            by_kind[kind] += n
        other = len(rows) - by_kind[PERSON] - by_kind["bot"] - by_kind["scanner"]
        cells = [f"{100 * n / len(rows):.1f}%" for n in (by_kind[PERSON], by_kind["bot"], by_kind["scanner"], other)]
        machines = share(kinds, (MACHINE,), True)
        people = share(kinds, (PEOPLE, PROXY), False)
        print(f"| {name} | {len(rows)} | {' | '.join(cells)} | {machines} | {people} |")
    for name, rows in crossings.items():
        for truth, kind, agent in rows[: args.show]:
            print(f"{name}\t{truth} labelled {kind}\t{agent}")


if __name__ == "__main__":
    main()
