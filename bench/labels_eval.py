"""How the labels hold on whole public User-Agent corpora: a confusion matrix per corpus, and the rows that cross the note line.

Two families of corpora. The ones the rules and lists were written from (../shared/corpora/:
crawler-user-agents, Matomo's fixtures, uap-core's tests) say how well the rules fit what they were
built on. The held-out ones come from public packages this service does not use, fetched into
bench/.corpora/ (never shipped): woothee's test sets (npm), the `user-agents` npm package's browser
data, fake-useragent's browser list (PyPI), CrawlerDetect's crawler and device fixtures (PyPI
`crawlerdetect`'s source), isbot's first test strings, and the tests of express-useragent, bowser and
ua-parser-js (npm); and, from their repositories at pinned commits, the e-mail client tests of yauaa and
WhichBrowser and ua-parser-js 2's extension tests (e-mail clients; crawlers, fetchers, libraries and
command-line tools). A held-out string that a written-from corpus also holds is left out. Each held-out
corpus is cut in two halves by a hash of the string: rules were only ever tuned against the "tuning"
half; the "reported" half is the measure. Each row's truth comes from its corpus (a crawler or bot
fixture holds machines; a browser, device, app or mail-client fixture holds people; feed readers and
media players are software); a held-out string that ua-parser-js's e-mail extension names a mail
client in is a person reading, and the name it gives is the one the mail-client figure checks, unless the
string's own file names its client (yauaa, WhichBrowser, ua-parser-js 2's e-mail tests). Every
string is classified from an ordinary residential address, with no timing signal, so only the
User-Agent speaks:

    .venv/bin/python bench/labels_eval.py --fetch          # fetch the held-out corpora (npm, pip; Node names the mail clients)
    .venv/bin/python bench/labels_eval.py                  # the targets and the matrices
    .venv/bin/python bench/labels_eval.py --readme         # and write them into README.md
    .venv/bin/python bench/labels_eval.py --show 20        # and up to 20 crossing rows per corpus
    .venv/bin/python bench/labels_eval.py --half tuning --show 50   # the rows to tune on
    .venv/bin/python bench/labels_eval.py --lists matomo   # with only one maintained list (a cross-check)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
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
HELD_OUT_DIR = ROOT / "bench" / ".corpora"
# What --fetch downloads, pinned: (client, package spec, files or folders inside the package). "sdist" is pip's
# source archive, where a project keeps its tests.
HELD_OUT_PACKAGES = {
    "woothee": ("npm", "woothee@1.11.1", ("package/woothee/testsets/",)),
    "user-agents": ("npm", "user-agents@2.1.198", ("package/dist/user-agents.json",)),
    "fake-useragent": ("pip", "fake-useragent==2.2.0", ("fake_useragent/data/browsers.jsonl",)),
    # CrawlerDetect's fixtures (JayBizzle/Crawler-Detect), as its Python port ships them.
    "crawlerdetect": ("sdist", "crawlerdetect==0.4.2", ("crawlerdetect-0.4.2/tests/fixtures/user_agent/",)),
    # isbot's first release shipped its test strings; later ones ship none.
    "isbot": ("npm", "isbot@1.0.1", ("package/crawlers.txt", "package/browsers.txt")),
    "express-useragent": (
        "npm", "express-useragent@1.0.15", ("package/test/bots.test.js", "package/test/browsers.test.js"),
    ),
    "bowser": ("npm", "bowser@2.0.0-alpha.1", ("package/test/acceptance/useragentstrings.yml",)),
    "ua-parser-js": (
        "npm", "ua-parser-js@1.0.2",
        ("package/test/browser-test.json", "package/test/device-test.json", "package/test/mediaplayer-test.json"),
    ),
}  # fmt: skip
# Held-out test files that no registry ships, each pinned to a commit of its repository: name: (repo, files).
# Each names the client of every string itself, so the mail-client figure takes its name from the file:
# yauaa's e-mail client tests (Apache-2.0), WhichBrowser's e-mail app tests (MIT) and ua-parser-js 2's
# extension tests (MIT: e-mail clients, and crawlers, fetchers, libraries and command-line tools as machines).
HELD_OUT_REPOSITORIES = {
    "yauaa": ("nielsbasjes/yauaa", (
        ("analyzer/src/main/resources/UserAgents/EMailClients.yaml", "026257a3bbcc87f7715f35a5f466b30b9d5b7d31"),
    )),
    "whichbrowser": ("WhichBrowser/Parser-PHP", (
        ("tests/data/desktop/app-email.yaml", "073f90964ac7bead7308c4b3961a42a44e34d8bb"),
        ("tests/data/mobile/app-email.yaml", "32568090620f1a8726c27b34fc7a7b26d416908b"),
    )),
    "uap-js-ext": ("faisalman/ua-parser-js", (
        ("test/data/ua/extension/email.json", "1a057b4be24068e640264f4348f3d70d46d61704"),
        ("test/data/ua/extension/crawler.json", "0bb6e24837aec7aec10d8cd1c2491128e058e21a"),
        ("test/data/ua/extension/fetcher.json", "0bb6e24837aec7aec10d8cd1c2491128e058e21a"),
        ("test/data/ua/extension/library.json", "5a5b3213477c6618bca2b633e1cc4f5c2cff7e6e"),
        ("test/data/ua/extension/cli.json", "12643c9f074da9141804ef8b663f9ce93d54c7fa"),
    )),
}  # fmt: skip
RAW_GITHUB = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
HELD_OUT = (*HELD_OUT_PACKAGES, *HELD_OUT_REPOSITORIES)
# Names the mail client of a held-out string, for the mail-client figure: ua-parser-js 2's e-mail extension,
# a list of its own (none of the corpora the rules were written from). Run once by --fetch, under Node.
MAIL_NAMER = ("npm", "ua-parser-js@2.0.10", ("package/src/",))
MAIL_NAMES = "mail-names.json"
NAME_MAIL_CLIENTS_JS = """
const dir = process.argv[1];
const {UAParser} = require(dir + '/main/ua-parser.js');
const {Emails} = require(dir + '/extensions/ua-parser-extensions.js');
const parser = new UAParser(Emails);
const names = {};
for (const agent of JSON.parse(require('fs').readFileSync(0, 'utf8'))) {
    const browser = parser.setUA(agent).getBrowser();
    if (browser.type === 'email' && browser.name) names[agent] = browser.name;
}
process.stdout.write(JSON.stringify(names));
"""
# Headless engines that the corpora file as browsers (automation: nobody reads mail in one).
HEADLESS_NAMES = ("PhantomJS", "SlimerJS", "Chrome Headless")
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


def lines_of(path: Path, truth: str) -> Iterator[tuple[str, str]]:
    """Yield each non-empty line of a fixture file, all of one truth."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            yield line.strip(), truth


def express_useragent_rows(directory: Path) -> Iterator[tuple[str, str]]:
    """Yield express-useragent's test strings: a test that asserts isBot holds a machine, the others a person."""
    for path in sorted(directory.glob("*.test.js")):
        for test in path.read_text().split("exports[")[1:]:
            first = re.search(r"var \w+ = (.*?);\n", test, flags=re.DOTALL)
            if first:
                agent = "".join(re.findall(r"'((?:[^'\\]|\\.)*)'", first.group(1))).replace("\\'", "'")
                yield agent, MACHINE if "test.ok(userAgent.isBot," in test else PEOPLE


def bowser_rows(path: Path) -> Iterator[tuple[str, str]]:
    """Yield bowser's acceptance strings, filed by browser name: Googlebot and the headless engines are machines."""
    for name, entries in yaml.safe_load(path.read_text()).items():
        for entry in entries:
            yield str(entry["ua"]), MACHINE if name == "Googlebot" or name in HEADLESS_NAMES else PEOPLE


def ua_parser_js_rows(directory: Path) -> Iterator[tuple[str, str]]:
    """Yield ua-parser-js's test strings: browsers and devices are people (less headless engines), players software."""
    for path in sorted(directory.glob("*-test.json")):
        for entry in json.loads(path.read_text()):
            if path.name.startswith("mediaplayer"):
                yield entry["ua"], SOFTWARE
            else:
                yield entry["ua"], MACHINE if entry["expect"].get("name") in HEADLESS_NAMES else PEOPLE


def held_out_rows(name: str, directory: Path) -> Iterator[tuple[str, str]]:
    """Yield (User-Agent, truth) for a fetched held-out corpus, each row's truth as its corpus files it."""
    if name == "woothee":
        yield from woothee_rows(directory)
    elif name == "user-agents":
        for entry in json.loads((directory / "user-agents.json").read_text()):
            yield entry["userAgent"], PEOPLE
    elif name == "fake-useragent":
        for line in (directory / "browsers.jsonl").read_text().splitlines():
            yield json.loads(line)["useragent"], PEOPLE
    elif name in ("crawlerdetect", "isbot"):  # both keep crawlers.txt and a file of people's strings
        yield from lines_of(directory / "crawlers.txt", MACHINE)
        yield from lines_of(directory / ("devices.txt" if name == "crawlerdetect" else "browsers.txt"), PEOPLE)
    elif name == "express-useragent":
        yield from express_useragent_rows(directory)
    elif name == "bowser":
        yield from bowser_rows(directory / "useragentstrings.yml")
    elif name == "ua-parser-js":
        yield from ua_parser_js_rows(directory)


def yauaa_rows(directory: Path) -> Iterator[tuple[str, str, str]]:
    """Yield yauaa's test strings with their client: e-mail clients, browsers and webviews are people, cloud
    applications machines; its "Special" class (Office's document apps, which no one reads mail in but which
    Matomo files as people's apps) is left out as neither."""
    for path in sorted(directory.glob("*.yaml")):
        for item in yaml.safe_load(path.read_text())["config"]:
            test = item.get("test") if isinstance(item, dict) else None
            if not test:
                continue
            given = test["input"]  # a string alone, or among other headers
            agent, expected = str(given.get("user_agent_string") or given.get("User-Agent", "")), test["expected"]
            kind = expected.get("AgentClass", "")
            if kind == "Email Client":
                yield agent, PEOPLE, str(expected["AgentName"])
            elif kind.startswith("Browser"):
                yield agent, PEOPLE, ""
            elif kind in ("Cloud Application", "Hacker") or kind.startswith("Robot"):
                yield agent, MACHINE, ""


def whichbrowser_rows(directory: Path) -> Iterator[tuple[str, str, str]]:
    """Yield WhichBrowser's e-mail app strings: each a person's mail client, named by the test's result."""
    for path in sorted(directory.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text()) or []:
            headers = entry["headers"]
            if isinstance(headers, str):
                headers = dict([headers.split(": ", 1)])
            agent = headers.get("User-Agent")
            if agent:
                yield str(agent), PEOPLE, str((entry.get("result") or {}).get("browser", {}).get("name", ""))


def ua_parser_js_extension_rows(directory: Path) -> Iterator[tuple[str, str, str]]:
    """Yield ua-parser-js 2's extension tests: its e-mail clients are people (named), the rest machines."""
    for path in sorted(directory.glob("*.json")):
        for entry in json.loads(path.read_text()):
            agent = entry.get("ua")
            if not agent:
                continue
            if path.stem == "email":
                yield agent, PEOPLE, str((entry.get("expect") or {}).get("name", ""))
            else:
                yield agent, MACHINE, ""


NAMED_READERS = {"yauaa": yauaa_rows, "whichbrowser": whichbrowser_rows, "uap-js-ext": ua_parser_js_extension_rows}


def named_rows(name: str, directory: Path) -> list[tuple[str, str, str]]:
    """A held-out corpus's rows as (User-Agent, truth, the mail client its file names, or '')."""
    if name in NAMED_READERS:
        return list(NAMED_READERS[name](directory))
    return [(agent, truth, "") for agent, truth in held_out_rows(name, directory)]


def fetched(directory: Path) -> bool:
    """Whether a held-out corpus has any file here (a fetch that could not reach its source leaves none)."""
    return directory.is_dir() and any(directory.iterdir())


def half_of(agent: str) -> str:
    """Put a string in the tuning or the reported half, by a hash of it (stable across runs)."""
    return "tuning" if hashlib.sha256(agent.encode()).digest()[0] % 2 == 0 else "reported"


def fetch(directory: Path) -> None:
    """Download each held-out corpus through its registry's own client and keep only the fixture files."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (client, spec, inside) in {**HELD_OUT_PACKAGES, "mail-namer": MAIL_NAMER}.items():
        files = package_files(client, spec, inside)
        target = directory / name
        target.mkdir(exist_ok=True)
        for filename, data in files:
            (target / filename).parent.mkdir(parents=True, exist_ok=True)
            (target / filename).write_bytes(data)
        print(f"{name}: {len(files)} files from {client} {spec} in {target}")
    for name, (repo, files) in HELD_OUT_REPOSITORIES.items():
        fetch_repository_files(directory / name, repo, files)
    name_mail_clients(directory)


def fetch_repository_files(target: Path, repo: str, files: tuple[tuple[str, str], ...]) -> None:
    """Download test files of one repository, each at its pinned commit; say where to put them when GitHub is out of reach."""
    target.mkdir(parents=True, exist_ok=True)
    for path, commit in files:
        url = RAW_GITHUB.format(repo=repo, commit=commit, path=path)
        local = target / local_name(path)
        try:
            with urllib.request.urlopen(url, timeout=60) as answer:
                local.write_bytes(answer.read())
        except OSError as error:
            print(f"{repo}: {path} not fetched ({error}); put {url} at {local}")
            continue
        print(f"{repo}: {path} at {commit[:12]} in {local}")


def local_name(path: str) -> str:
    """The local file name of a fetched test file: its folder and name, so that two app-email.yaml keep apart."""
    parts = Path(path).parts
    return f"{parts[-2]}-{parts[-1]}" if parts[-1] == "app-email.yaml" else parts[-1]


def package_files(client: str, spec: str, inside: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The named files of one pinned package (a folder's files keep their path below it)."""
    with tempfile.TemporaryDirectory() as tmp:
        if client == "npm":
            subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True, timeout=300)
        else:
            binary = ["--no-binary", ":all:"] if client == "sdist" else ["--only-binary", ":all:"]
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", *binary, "-q", "-d", tmp, spec]
            subprocess.run(pip, check=True, capture_output=True, timeout=300)
        archive = next(path for path in Path(tmp).iterdir() if path.is_file())
        if archive.suffix == ".whl":
            wheel = zipfile.ZipFile(archive)
            return [(Path(member).name, wheel.read(member)) for member in inside]
        with tarfile.open(archive) as tar:
            return [
                (_below(member.name, inside), tar.extractfile(member).read())
                for member in tar.getmembers()
                if member.isfile() and _below(member.name, inside)
            ]


def _below(member: str, inside: tuple[str, ...]) -> str:
    """A member's path below the folder or file of `inside` that holds it, or '' when none does."""
    for wanted in inside:
        if wanted.endswith("/") and member.startswith(wanted):
            return member[len(wanted) :]
        if member == wanted:
            return Path(member).name
    return ""


def name_mail_clients(directory: Path) -> None:
    """Have ua-parser-js's e-mail extension name the mail client of every held-out string, into mail-names.json."""
    agents = sorted({agent for name in HELD_OUT_PACKAGES for agent, _ in held_out_rows(name, directory / name)})
    if shutil.which("node") is None:
        print("no Node here: held-out mail clients are not named, and no mail-client figure is made for them")
        return
    script = ["node", "-e", NAME_MAIL_CLIENTS_JS, str(directory / "mail-namer")]
    named = subprocess.run(script, input=json.dumps(agents), capture_output=True, text=True, check=True, timeout=300)
    (directory / MAIL_NAMES).write_text(named.stdout)
    print(f"mail clients named by {MAIL_NAMER[1]}: {len(json.loads(named.stdout))} of {len(agents)} strings")


def mail_names(directory: Path) -> dict[str, str]:
    """The mail client ua-parser-js names in each held-out string that it names one in."""
    path = directory / MAIL_NAMES
    return json.loads(path.read_text()) if path.exists() else {}


def written_from_agents(corpora_dir: Path) -> set[str]:
    """Every string of the corpora the rules were written from."""
    return {agent for filename in CORPUS_FILES.values() for agent, _ in rows_of(corpora_dir / filename)}


def corpora(args) -> Iterator[tuple[str, str, list[tuple[str, str]], dict[str, str]]]:
    """Yield (name, family, rows, mail client names) for every corpus: those the rules were written from, then the
    held-out halves.

    A held-out string that is also in a written-from corpus is left out: it would not be held out. A held-out
    string's mail client is the one its own file names, or else the one ua-parser-js's e-mail extension names.
    """
    seen = written_from_agents(args.corpora)
    namer = mail_names(args.held_out)
    if args.half in ("all", "written-from"):
        for name, filename in CORPUS_FILES.items():
            yield name, "written from", list(rows_of(args.corpora / filename)), {}
    for name in HELD_OUT if args.half != "written-from" else ():
        if not fetched(args.held_out / name):
            print(f"({name} not fetched: run with --fetch)", file=sys.stderr)
            continue
        every = named_rows(name, args.held_out / name)
        names = {agent: own or namer.get(agent, "") for agent, _, own in every}
        names = {agent: client for agent, client in names.items() if client}
        # A mail client's load is a person reading, whatever a web crawler list files it as.
        rows = [(agent, PEOPLE if agent in names else truth) for agent, truth, _ in every if agent not in seen]
        print(
            f"({name}: {len(every) - len(rows)} of {len(every)} strings also written from, left out)", file=sys.stderr
        )
        for half in ("tuning", "reported"):
            if args.half in ("all", half, "held-out"):
                yield f"{name} ({half} half)", half, [row for row in rows if half_of(row[0]) == half], names


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


# Other projects' names for mail clients that this service names otherwise (ua-parser-js, yauaa,
# WhichBrowser): Windows Live Mail sends Outlook Express's token, Apple Mail's own HTTP stack calls itself
# "Mail", Zimbra's desktop client "Zdesktop"; yauaa calls every desktop Outlook "Microsoft Outlook", its
# phone apps "Microsoft Outlook Mobile", and Outlook's connection to Exchange "Microsoft Office MAPI Client".
NAMER_ALIASES = {
    "outlookexpress": {"windowslivemail", "outlook"},
    "microsoftoutlook": {"outlook", "outlookformac", "outlookforwindows"},
    "microsoftoutlookmobile": {"outlookforios", "outlookforandroid"},
    "microsoftoutlookexpress": {"windowslivemail", "outlook"},
    "microsoftofficemapiclient": {"outlook"},
    "macoutlook": {"outlookformac"},
    "mail": {"applemail"},
    "zimbra": {"zimbradesktop"},
    "sparkdesktop": {"spark"},
    "lotusnotes": {"lotusnotes"},
    "gmailimageproxy": {"gmail"},
    "yahoo": {"yahoomail"},
    "navermailapp": {"navermail"},
    "kmail2": {"kmail"},
    "kontact": {"kmail"},  # KDE's suite, whose mail part is KMail
}


def _name_key(name: str) -> str:
    """A client's name without case, spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def same_client(ours: str, theirs: str) -> bool:
    """Whether the client named here is the one ua-parser-js names (up to spelling and its aliases)."""
    key = _name_key(theirs)
    return _name_key(ours) in {key, *NAMER_ALIASES.get(key, ())}


def held_out_mail_clients(
    classifier: Classifier, rows: list[tuple[str, str]], names: dict[str, str]
) -> tuple[int, int, list[str]]:
    """Of a held-out half's people whose string ua-parser-js names a mail client in, how many get its name here."""
    mail = [(agent, names[agent]) for agent, truth in rows if truth == PEOPLE and agent in names]
    missed = [
        f"{theirs}: {agent}"
        for agent, theirs in mail
        if not same_client(classifier.classify(agent, RESIDENTIAL).client, theirs)
    ]
    return len(mail) - len(missed), len(mail), missed


def report(args, classifier: Classifier) -> tuple[list[str], list[str]]:
    """The matrices and the targets as Markdown lines, and the rows to look at (crossing rows, unnamed mail clients)."""
    totals: dict[str, Counter] = {}
    mail: dict[str, list[int]] = {}
    matrix = ["| corpus | truth | " + " | ".join(LABELS) + " |", "|---|---|" + "---:|" * len(LABELS)]
    per_corpus = []
    looked_at = []
    for name, family, rows, names in corpora(args):
        kinds, crossing = evaluate(classifier, rows)
        totals.setdefault(family, Counter()).update(kinds)
        matrix += matrix_rows(name, kinds)
        per_corpus.append(f"| {name} | {people_as_machines(kinds)} | {machines_noted(kinds)} |")
        looked_at += [f"{name}\t{truth} labelled {kind}\t{agent}" for truth, kind, agent in crossing[: args.show]]
        if family != "written from":
            named, total, missed = held_out_mail_clients(classifier, rows, names)
            counts = mail.setdefault(family, [0, 0])
            counts[0], counts[1] = counts[0] + named, counts[1] + total
            looked_at += [f"{name}\tmail client not named\t{agent}" for agent in missed[: args.show]]
    if args.half in ("all", "written-from"):
        named, total, missed = mail_clients_named(classifier, args.corpora)
        mail["written from"] = [named, total]
        looked_at += [f"matomo pim\tmail client not named\t{agent}" for agent in missed[: args.show]]
    targets = [
        "| corpora | people labelled machine (target at most 0.3%) | machines given a note (target at most 5%) "
        "| mail clients named (target at least 95%) |",
        "|---|---:|---:|---:|",
    ]
    for family, kinds in totals.items():
        label = FAMILY_NAMES.get(family, family)
        targets.append(
            f"| {label} | {people_as_machines(kinds)} | {machines_noted(kinds)} | {percent(*mail.get(family, (0, 0)))} |"
        )
    by_corpus = ["| corpus | people labelled machine | machines given a note |", "|---|---:|---:|", *per_corpus]
    return [*targets, "", *matrix, "", *by_corpus], looked_at


FAMILY_NAMES = {"reported": "held out, reported halves", "tuning": "held out, tuning halves"}


def people_as_machines(kinds: Counter) -> str:
    """People (and webmail proxies) labelled scanner, prefetch or bot: reads lost."""
    return percent(*rate(kinds, (PEOPLE, PROXY), (GMAIL_PREFETCH, SCANNER, BOT)))


def machines_noted(kinds: Counter) -> str:
    """Machines and software labelled person or Apple preload: a note where no one read."""
    return percent(*rate(kinds, (MACHINE, SOFTWARE), NOTED))


README = ROOT / "README.md"
README_BEGIN = "<!-- made by `bench/labels_eval.py --readme`: begin -->"
README_END = "<!-- made by `bench/labels_eval.py --readme`: end -->"


def write_readme(lines: list[str], readme: Path = README) -> None:
    """Put the report between the README's two markers."""
    text = readme.read_text()
    start, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    readme.write_text(text[:start] + "\n" + "\n".join(lines) + "\n" + text[end:])


def main() -> None:
    """Print the targets per family of corpora, a confusion matrix per corpus, and the rows that cross the note line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA, help="the corpora the rules were written from")
    parser.add_argument("--held-out", type=Path, default=HELD_OUT_DIR, help="where --fetch keeps the held-out corpora")
    parser.add_argument("--fetch", action="store_true", help="download the held-out corpora first")
    parser.add_argument("--half", default="all", choices=("all", "written-from", "held-out", "tuning", "reported"))
    parser.add_argument("--show", type=int, default=0, help="crossing rows to print per corpus")
    parser.add_argument("--readme", action="store_true", help="also write the tables into README.md")
    parser.add_argument(
        "--lists", default=",".join(lists.SOURCES), help="maintained lists to use, comma-separated (none: '')"
    )
    args = parser.parse_args()
    if args.fetch:
        fetch(args.held_out)
    if args.readme and (args.half != "all" or not all(fetched(args.held_out / name) for name in HELD_OUT)):
        raise SystemExit("--readme needs every corpus: run with --fetch once, and without --half")
    use_lists([name for name in args.lists.split(",") if name])
    lines, looked_at = report(args, Classifier(load_ranges(), AddressRanges([])))
    print("\n".join(lines))
    if looked_at:
        print("\n" + "\n".join(looked_at))
    if args.readme:
        write_readme(lines)


if __name__ == "__main__":
    main()
