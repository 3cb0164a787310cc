"""How the labels hold on whole public User-Agent corpora: a confusion matrix per corpus, and the rows that cross the note line.

Two families of corpora. The ones the rules and lists were written from (../shared/corpora/:
crawler-user-agents, Matomo's fixtures, uap-core's tests) say how well the rules fit what they were
built on. The held-out ones come from public packages this service does not use, fetched into
bench/.corpora/ (never shipped): woothee's test sets (npm `woothee`), the `user-agents` npm package's
browser data and fake-useragent's (PyPI) browser list. Each held-out corpus is cut in two halves by
a hash of the string: rules were only ever looked at against the "tuning" half; the "reported" half
is the measure. Each row's truth comes from its corpus (a crawler or bot fixture holds machines; a
browser, device, app or mail-client fixture holds people; feed readers and media players are
software). Every string is classified from an ordinary residential address, with no timing signal,
so only the User-Agent speaks:

    .venv/bin/python bench/labels_eval.py --fetch          # fetch the held-out corpora (npm, pip)
    .venv/bin/python bench/labels_eval.py                  # the matrices and the targets
    .venv/bin/python bench/labels_eval.py --show 20        # and up to 20 crossing rows per corpus
    .venv/bin/python bench/labels_eval.py --half tuning --show 50   # the rows to tune on
    .venv/bin/python bench/labels_eval.py --lists matomo   # with only one maintained list (a cross-check)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ua_parser import parse as parse_user_agent  # noqa: E402

from read_receipts.labels import lists, openers  # noqa: E402
from read_receipts.labels.openers import (  # noqa: E402
    APPLE_PRELOAD,
    BOT,
    GMAIL_PREFETCH,
    PERSON,
    SCANNER,
    AddressRanges,
    Classifier,
    load_ranges,
)

# ../shared/corpora/ beside the checkout (or beside the folder of work trees that holds it).
CORPORA = next(
    (p for p in (ROOT.parent / "shared" / "corpora", ROOT.parent.parent / "shared" / "corpora") if p.is_dir()),
    ROOT.parent / "shared" / "corpora",
)
HELD_OUT = ROOT / "bench" / ".corpora"
# What --fetch downloads, pinned: (client, package spec, file inside the package).
HELD_OUT_PACKAGES = {
    "woothee": ("npm", "woothee@1.11.1", "package/woothee/testsets/"),
    "user-agents": ("npm", "user-agents@2.1.198", "package/dist/user-agents.json"),
    "fake-useragent": ("pip", "fake-useragent==2.2.0", "fake_useragent/data/browsers.jsonl"),
}
LABELS = (PERSON, APPLE_PRELOAD, GMAIL_PREFETCH, SCANNER, BOT)
NOTED = (PERSON, APPLE_PRELOAD)
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


def woothee_rows(directory: Path) -> Iterator[tuple[str, str]]:
    """Yield woothee's test strings: crawlers and HTTP libraries are machines, feed readers software, the rest people."""
    for path in sorted(directory.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text()) or []:
            agent, category, name = entry.get("target"), entry.get("category"), entry.get("name", "")
            if not agent or category == "UNKNOWN" and name == "UNKNOWN" and len(str(agent)) < 2:
                continue  # empty and "-": no User-Agent at all
            if category == "crawler" or name == "HTTP Library":
                yield str(agent), MACHINE
            elif category == "misc":
                yield str(agent), SOFTWARE
            else:
                yield str(agent), PEOPLE


def held_out_rows(name: str, path: Path) -> Iterator[tuple[str, str]]:
    """Yield (User-Agent, truth) for a fetched held-out corpus."""
    if name == "woothee":
        yield from woothee_rows(path)
    elif name == "user-agents":
        for entry in json.loads(path.read_text()):
            yield entry["userAgent"], PEOPLE
    elif name == "fake-useragent":
        for line in path.read_text().splitlines():
            yield json.loads(line)["useragent"], PEOPLE


def half_of(agent: str) -> str:
    """Put a string in the tuning or the reported half, by a hash of it (stable across runs)."""
    return "tuning" if hashlib.sha256(agent.encode()).digest()[0] % 2 == 0 else "reported"


def fetch(directory: Path) -> None:
    """Download each held-out corpus through its registry's own client and keep only the fixture files."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (client, spec, inside) in HELD_OUT_PACKAGES.items():
        with tempfile.TemporaryDirectory() as tmp:
            if client == "npm":
                subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True, timeout=300)
                archive = tarfile.open(next(Path(tmp).glob("*.tgz")))
                members = [m for m in archive.getmembers() if m.name.startswith(inside) and m.isfile()]
                files = [(Path(m.name).name, archive.extractfile(m).read()) for m in members]
            else:
                pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec]
                subprocess.run(pip, check=True, capture_output=True, timeout=300)
                wheel = zipfile.ZipFile(next(Path(tmp).glob("*.whl")))
                files = [(Path(inside).name, wheel.read(inside))]
        target = directory / name
        target.mkdir(exist_ok=True)
        for filename, data in files:
            (target / filename).write_bytes(data)
        print(f"{name}: {len(files)} files from {client} {spec} in {target}")


def corpora(args) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """Yield (name, family, rows) for every corpus: those the rules were written from, then the held-out halves."""
    if args.half in ("all", "written-from"):
        for name, filename in CORPUS_FILES.items():
            yield name, "written from", list(rows_of(args.corpora / filename))
    for name, (_, _, inside) in HELD_OUT_PACKAGES.items():
        path = args.held_out / name / ("" if inside.endswith("/") else Path(inside).name)
        if not path.exists():
            print(f"({name} not fetched: run with --fetch)")
            continue
        rows = list(held_out_rows(name, path))
        for half in ("tuning", "reported"):
            if args.half in ("all", half, "held-out"):
                yield f"{name} ({half} half)", half, [row for row in rows if half_of(row[0]) == half]


def evaluate(classifier: Classifier, rows: list[tuple[str, str]]) -> tuple[Counter, list[tuple[str, str, str]]]:
    """Count (truth, label) pairs, and list the rows whose label crosses the note line."""
    kinds: Counter = Counter()
    crossing = []
    for agent, truth in rows:
        opener = classifier.classify(agent, RESIDENTIAL)
        kinds[(truth, opener.kind)] += 1
        noted = opener.kind in NOTED
        if (truth in (MACHINE, SOFTWARE) and noted) or (truth in (PEOPLE, PROXY) and not noted):
            crossing.append((truth, opener.kind, agent))
    return kinds, crossing


# Matomo's "pim" holds calendars, note-takers, messaging hubs and 2channel readers besides mail clients.
NOT_MAIL = ("DAVdroid", "Live5ch", "JaneView", "BathyScaphe", "Raindrop.io", "Franz", "Notion", "Basecamp", "Evernote", "Rambox Pro")  # fmt: skip


def mail_clients_named(classifier: Classifier, corpora_dir: Path) -> tuple[int, int, list[str]]:
    """How many of Matomo's mail-client strings get a mail client's name."""
    names = {name for _, name in openers.rules.MAIL_CLIENTS} | {"Apple Mail", "Gmail", "Yahoo Mail"}
    document = yaml.safe_load((corpora_dir / CORPUS_FILES["matomo pim (mail clients)"]).read_text())
    rows = [str(entry["user_agent"]) for entry in document if entry["client"]["name"] not in NOT_MAIL]
    missed = [agent for agent in rows if classifier.classify(agent, RESIDENTIAL).client not in names]
    return len(rows) - len(missed), len(rows), missed


def matrix_rows(name: str, kinds: Counter) -> list[str]:
    """One corpus's confusion matrix as Markdown rows: one per truth, one column per label."""
    rows = []
    for truth in (PEOPLE, PROXY, MACHINE, SOFTWARE):
        if any(t == truth for t, _ in kinds):
            rows.append(f"| {name} | {truth} | " + " | ".join(str(kinds[(truth, label)]) for label in LABELS) + " |")
    return rows


def rate(kinds: Counter, truths: tuple[str, ...], labels: tuple[str, ...]) -> tuple[int, int]:
    """Rows of the given truths given one of the given labels, and all rows of those truths."""
    total = sum(n for (truth, _), n in kinds.items() if truth in truths)
    return sum(n for (truth, kind), n in kinds.items() if truth in truths and kind in labels), total


def percent(hits: int, total: int) -> str:
    """A share as text."""
    return f"{100 * hits / total:.2f}% ({hits}/{total})" if total else "-"


def use_lists(sources: list[str]) -> None:
    """Have the classifier use only some maintained lists: each list measured on the other project's corpus."""
    unknown = set(sources) - set(lists.SOURCES)
    if unknown:
        raise SystemExit(f"unknown lists {sorted(unknown)}; known: {', '.join(lists.SOURCES)}")
    openers.MACHINE_LISTS = lists.machine_lists(sources)
    openers._is_machine.cache_clear()


def main() -> None:
    """Print a confusion matrix per corpus, the targets per family of corpora, and the crossing rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA, help="the corpora the rules were written from")
    parser.add_argument("--held-out", type=Path, default=HELD_OUT, help="where --fetch keeps the held-out corpora")
    parser.add_argument("--fetch", action="store_true", help="download the held-out corpora first")
    parser.add_argument("--half", default="all", choices=("all", "written-from", "held-out", "tuning", "reported"))
    parser.add_argument("--show", type=int, default=0, help="crossing rows to print per corpus")
    parser.add_argument(
        "--lists", default=",".join(lists.SOURCES), help="maintained lists to use, comma-separated (none: '')"
    )
    args = parser.parse_args()
    if args.fetch:
        fetch(args.held_out)
    use_lists([name for name in args.lists.split(",") if name])
    classifier = Classifier(load_ranges(), AddressRanges([]))
    totals: dict[str, Counter] = {}
    crossings = {}
    print("| corpus | truth | " + " | ".join(LABELS) + " |")
    print("|---|---|" + "---:|" * len(LABELS))
    for name, family, rows in corpora(args):
        kinds, crossings[name] = evaluate(classifier, rows)
        totals.setdefault(family, Counter()).update(kinds)
        print("\n".join(matrix_rows(name, kinds)))
    print()
    print("| corpora | people labelled machine (target <= 0.3%) | machines given a note (target <= 5%) |")
    print("|---|---:|---:|")
    for family, kinds in totals.items():
        people = percent(*rate(kinds, (PEOPLE, PROXY), (GMAIL_PREFETCH, SCANNER, BOT)))
        machines = percent(*rate(kinds, (MACHINE, SOFTWARE), NOTED))
        print(f"| {family} | {people} | {machines} |")
    if args.half in ("all", "written-from"):
        named, total, missed = mail_clients_named(classifier, args.corpora)
        print(f"\nmail clients named (Matomo's pim fixtures, written from; target >= 95%): {percent(named, total)}")
        for agent in missed[: args.show]:
            print(f"  not named: {agent}")
    for name, rows in crossings.items():
        for truth, kind, agent in rows[: args.show]:
            print(f"{name}\t{truth} labelled {kind}\t{agent}")


if __name__ == "__main__":
    main()
