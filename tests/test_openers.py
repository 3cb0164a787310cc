"""Who opened: clients and kinds from real User-Agent strings, addresses and timing."""

from __future__ import annotations

import csv
import http.server
import json
import threading
from pathlib import Path

import pytest

from read_receipts.labels import lists
from read_receipts.labels.openers import RANGES_DIR, AddressRanges, Classifier, load_ranges, networks_in

TABLE = Path(__file__).parent / "data" / "user_agents.tsv"
RESIDENTIAL = "203.0.113.9"
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.78 Safari/537.36"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:24.0) Gecko/20100101 Thunderbird/24.2.0"


def real_user_agents() -> list[dict]:
    """The table of real strings (uap-core, Matomo DeviceDetector, the notes) with what we expect."""
    with TABLE.open(newline="") as table:
        return list(csv.DictReader(table, delimiter="\t"))


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """The shipped ranges, with an office network and a VPN range as the team's own."""
    own = AddressRanges([("agent", "198.51.100.0/24"), ("agent", "2001:db8:aa::/48"), ("agent", "192.0.2.7/32")])
    return Classifier(load_ranges(), own)


def test_the_table_is_large_and_from_public_sources():
    rows = real_user_agents()
    assert len(rows) >= 60
    assert all(row["source"] for row in rows)
    assert {row["kind"] for row in rows} >= {"person", "apple_preload", "gmail_prefetch", "scanner", "bot"}


@pytest.mark.parametrize("row", real_user_agents(), ids=lambda row: f"{row['source_says']}:{row['user_agent'][:40]}")
def test_real_user_agent_gets_its_client_and_kind(classifier, row):
    opener = classifier.classify(row["user_agent"], RESIDENTIAL)
    assert opener.kind == row["kind"]
    if row["client"] != "*":
        assert opener.client == row["client"]


@pytest.mark.parametrize(
    ("user_agent", "address", "kind"),
    [
        (OUTLOOK, "198.51.100.40", "agent"),  # the office
        (CHROME, "192.0.2.7", "agent"),  # one address
        (THUNDERBIRD, "2001:db8:aa:1::1", "agent"),  # the VPN, over IPv6
        (THUNDERBIRD, "::ffff:198.51.100.40", "agent"),  # IPv4-mapped IPv6
        (CHROME, "40.107.22.5", "scanner"),  # Microsoft's mail protection
        (CHROME, "2a01:111:f400::1234", "scanner"),  # ... over IPv6
        ("", "40.92.0.1", "scanner"),  # first address of a range
        ("", "40.93.255.255", "scanner"),  # last address of 40.92.0.0/15
        (CHROME, "40.94.16.20", "scanner"),  # Safe Links, seen outside the published ranges
        (CHROME, "40.95.0.0", "person"),  # just past them
        (OUTLOOK, "40.107.22.5", "person"),  # a mail client there is Outlook.com carrying a real open
        (CHROME, "67.231.144.10", "scanner"),  # Proofpoint
        (GMAIL, "40.107.22.5", "person"),  # proxy rules come first
        ("Mozilla/5.0", "17.58.1.1", "apple_preload"),
        (CHROME, "not-an-address", "person"),
        (CHROME, None, "person"),
    ],
)
def test_address_cases(classifier, user_agent, address, kind):
    assert classifier.classify(user_agent, address).kind == kind


@pytest.mark.parametrize(
    ("user_agent", "address", "seconds", "kind"),
    [
        (OUTLOOK, "40.107.22.5", 5, "scanner"),  # quick, from mail protection: two signals
        (OUTLOOK, "40.107.22.5", 2 * 3600, "person"),  # the same client hours later
        ("", RESIDENTIAL, 3, "scanner"),  # quick, and no User-Agent at all
        ("", RESIDENTIAL, 3600, "person"),  # no agent, an hour later: a person with an odd client
        (CHROME, RESIDENTIAL, 3, "person"),  # a person who reads at once
        (THUNDERBIRD, RESIDENTIAL, 65, "person"),
        ("", RESIDENTIAL, 120, "person"),  # past the window
        ("", RESIDENTIAL, None, "person"),  # the img tag did not say when the reply was sent
    ],
)
def test_timing_cases(classifier, user_agent, address, seconds, kind):
    assert classifier.classify(user_agent, address, seconds).kind == kind


def test_ranges_search_sorted_spans_with_overlaps():
    ranges = AddressRanges(
        [("b", "10.0.0.0/8"), ("a", "10.1.0.0/16"), ("c", "10.255.255.0/24"), ("d", "2001:db8::/32")]
    )
    assert ranges.name_of("10.1.2.3") == "b", "the wider range, earlier in order, wins"
    assert ranges.name_of("10.255.255.255") == "b"
    assert ranges.name_of("11.0.0.0") is None and ranges.name_of("9.255.255.255") is None
    assert ranges.name_of("2001:db8:ffff::1") == "d" and ranges.name_of("2001:db9::") is None
    assert len(ranges) == 2


def test_networks_are_read_from_apples_csv_format():
    text = "172.224.226.0/27,GB,GB-EN,London,\n172.224.226.32/27,GB,GB-EN,London,\n2a02:26f7:b3c0:4000::/64,GB,GB-EN,London,\n"
    assert networks_in(text) == ["172.224.226.0/26", "2a02:26f7:b3c0:4000::/64"]


def test_refresh_ranges_command_downloads_and_writes_the_file(make_app, tmp_path, monkeypatch):
    csv_text = "17.0.0.0/24,US,US-CA,Cupertino,\n17.0.1.0/24,US,US-CA,Cupertino,\n"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _serving(csv_text))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/egress-ip-ranges.csv"
    result = (
        make_app(LOCAL_RANGES_DIR=str(tmp_path))
        .test_cli_runner()
        .invoke(args=["refresh-ranges", "--source", f"apple={url}"])
    )
    server.shutdown()
    server.server_close()
    assert result.exit_code == 0, result.output
    written = (tmp_path / "apple.txt").read_text().splitlines()
    assert written[0].startswith("# apple: 1 networks from http://127.0.0.1") and written[1:] == ["17.0.0.0/23"]
    assert load_ranges(local=tmp_path).name_of("17.0.1.200") == "apple"


def test_only_exchange_online_protection_is_read_from_microsofts_endpoints(make_app, tmp_path, monkeypatch):
    endpoints = [
        {"id": 1, "serviceArea": "Exchange", "urls": ["outlook.office.com"], "ips": ["40.96.0.0/13"]},
        {
            "id": 10,
            "serviceArea": "Exchange",
            "urls": ["*.mail.protection.outlook.com"],
            "ips": ["40.92.0.0/15", "40.107.0.0/16", "2a01:111:f400::/48"],
        },
        {"id": 46, "serviceArea": "SharePoint", "urls": ["*.sharepoint.com"], "ips": ["13.107.136.0/22"]},
    ]
    source = tmp_path / "worldwide.json"
    source.write_text(json.dumps(endpoints))
    result = (
        make_app(LOCAL_RANGES_DIR=str(tmp_path / "local"))
        .test_cli_runner()
        .invoke(args=["refresh-ranges", "--source", f"microsoft={source}"])
    )
    assert result.exit_code == 0, result.output
    ranges = load_ranges(tmp_path / "none", local=tmp_path / "local")
    assert ranges.name_of("40.107.22.5") == "microsoft" and ranges.name_of("2a01:111:f400::9") == "microsoft"
    assert ranges.name_of("40.96.1.1") is None, "Outlook on the web carries real reads"
    assert ranges.name_of("13.107.136.1") is None


def test_refresh_ranges_refuses_an_empty_list(make_app, tmp_path, monkeypatch):
    empty = tmp_path / "empty.csv"
    empty.write_text("<html>maintenance</html>")
    result = (
        make_app(LOCAL_RANGES_DIR=str(tmp_path))
        .test_cli_runner()
        .invoke(args=["refresh-ranges", "--source", f"apple={empty}"])
    )
    assert result.exit_code == 1 and "holds no address ranges" in result.output
    assert not (tmp_path / "apple.txt").exists()


def test_my_own_list_is_added_to_the_shipped_ranges_which_are_left_alone(make_app, tmp_path, monkeypatch):
    shipped = {path.name: path.read_bytes() for path in RANGES_DIR.glob("*.txt")}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-list.txt").write_text("# our gateway\n192.0.2.0/24\n")
    result = make_app().test_cli_runner().invoke(args=["refresh-ranges", "--source", "scanners=./my-list.txt"])
    assert result.output == (
        "local-ranges/scanners.txt: 1 networks from ./my-list.txt, added to the shipped scanners ranges\n"
    )
    assert {path.name: path.read_bytes() for path in RANGES_DIR.glob("*.txt")} == shipped, "the checkout is untouched"
    shipped_scanner = next(line for line in shipped["scanners.txt"].decode().splitlines() if line[:1].isdigit())
    ranges = load_ranges(local=tmp_path / "local-ranges")
    assert ranges.name_of("192.0.2.9") == "scanners"
    assert ranges.name_of(shipped_scanner.split("/")[0]) == "scanners", "the shipped list still counts"


@pytest.mark.parametrize("source", ["../../labels/ranges/apple=x.txt", "mine=./x.txt", "scanners"])
def test_refresh_ranges_takes_only_the_lists_it_knows(make_app, tmp_path, source):
    local = tmp_path / "local-ranges"
    runner = make_app(LOCAL_RANGES_DIR=str(local)).test_cli_runner()
    result = runner.invoke(args=["refresh-ranges", "--source", source])
    assert result.exit_code == 2 and "NAME one of apple, microsoft, scanners" in result.output
    assert not local.exists()


def _serving(body: str):
    """A handler class that serves one text body."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def test_a_pattern_set_matches_look_arounds_too_and_names_the_entry():
    found = lists.PatternSet([("bot", r"(?<!cu)bot", True), ("Fetcher", "Fetcher/", False)])
    assert found.name_of("Mozilla/5.0 (compatible; Fetcher/1.0)") == "Fetcher"
    assert found.name_of("feedbot/1.0") is not None  # through Python's re: the Rust engine has no look-behind
    assert found.name_of("CUBOT NOTE 20") is None
    assert found.name_of("fetcher/1.0") is None  # case kept where the list asks for it


def test_matomo_libraries_count_only_as_the_first_product():
    libraries = lists.PatternSet(entry for entry in lists.matomo_patterns() if " library: " in entry[0])
    assert libraries.name_of("okhttp/4.9.3") is not None
    assert libraries.name_of("GoEuroAndroid/9.39.3 (Realme RMX3366; Android 14; okhttp/4.9.3) WebView") is None


def test_pcre_look_behinds_are_split_to_fixed_widths():
    assert lists._fixed_width(r"(?<!cu|power[ _])bot") == r"(?<!cu)(?<!power[ _])bot"
    assert lists._fixed_width(r"(?<!a\|b)c") == r"(?<!a\|b)c"
