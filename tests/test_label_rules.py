"""The label rules by class, each row a public string with its source, and labelling that holds for any string."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from read_receipts.labels.openers import KINDS, MAX_AGENT_LENGTH, AddressRanges, Classifier, Opener
from tests.hostile_agents import hostile_agents

RESIDENTIAL = "203.0.113.9"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

# (User-Agent, kind, client or "*", source). Where no public corpus holds a product's own string, the row
# carries the product's name the way its vendor writes it, inside a string of the usual shape.
BY_CLASS = [
    # 1. Mail-security gateways and web filters with a User-Agent of their own
    ("TMUFE", "scanner", "*", "Trend Micro's URL filtering engine, as recorded with its X-TM-UF-INFO header in a public Gatling simulation"),  # noqa: E501
    ("Mozilla/5.0 (compatible; Websense Content Gateway)", "scanner", "*", "Forcepoint (Websense) Content Gateway docs"),
    ("Mozilla/4.0 (compatible; Blue Coat ProxySG)", "scanner", "*", "Broadcom/Symantec Blue Coat ProxySG docs"),
    ("Zscaler/1.0 (URL inspection)", "scanner", "*", "Zscaler Internet Access docs"),
    ("FortiGuard/1.0 (Fortinet web filtering)", "scanner", "*", "Fortinet FortiGuard web filtering docs"),
    ("Mozilla/5.0 (compatible; Cisco IronPort URL filtering)", "scanner", "*", "Cisco Secure Email (IronPort) docs"),
    ("Barracuda Sentinel (EE)", "scanner", "*", "shared/email-clients-notes.md"),
    # 2. HTTP clients outside the prefix list, or with a comment after the name
    ("Apache-HttpAsyncClient/4.1.4 (Java/1.8.0_181)", "bot", "*", "Apache HttpComponents HttpAsyncClient"),
    ("Microsoft-WebDAV-MiniRedir/10.0.19042", "bot", "*", "Microsoft WebDAV redirector (uap-core test_device)"),
    ("node/18.17.0", "bot", "*", "Node.js runtime"),
    ("Google-HTTP-Java-Client/1.42.3 (gzip)", "bot", "*", "google-http-java-client"),
    ("Jersey/2.25.1 (HttpUrlConnection 1.8.0_292)", "bot", "*", "Eclipse Jersey client's default User-Agent"),
    ("Tool/2.0 (Java/17.0.2)", "bot", "*", "a runtime in the comment, as Apache HttpClient writes it (Matomo library fixtures)"),
    ("GoEuroAndroid/9.39.3 (Realme RMX3366; Android 14; okhttp/4.9.3) WebView", "person", "*", "Matomo mobile_app fixtures: a library inside an app on a phone"),  # noqa: E501
    # 3. Monitoring and performance tools, in any case
    (f"{CHROME} PTST/230101.120000", "bot", "*", "WebPageTest's PTST token (docs.webpagetest.org)"),
    (f"{CHROME} RuxitSynthetic/1.0 v1090987875435353284", "bot", "*", "Dynatrace synthetic monitors (uap-core)"),
    ("Mozilla/5.0 (compatible; GTmetrix https://gtmetrix.com/)", "bot", "*", "GTmetrix docs"),
    ("Mozilla/5.0 YottaaMonitor;", "bot", "*", "Yottaa monitor (uap-core)"),
    ("Mozilla/5.0 (compatible; MONITORING agent)", "bot", "*", "upper-case spelling of a monitor"),
    # 4. Strings with no product at all (OWASP testing guide payloads)
    ("<script>alert(1)</script>", "bot", "*", "OWASP XSS filter evasion cheat sheet"),
    ("' OR 1=1--", "bot", "*", "OWASP SQL injection testing"),
    ("() { :; }; /bin/bash -c 'cat /etc/passwd'", "bot", "*", "Shellshock, CVE-2014-6271"),
    ("${jndi:ldap://127.0.0.1/a}", "bot", "*", "Log4Shell, CVE-2021-44228"),
    ("../../../../etc/passwd", "bot", "*", "OWASP path traversal"),
    # 5. Names with no machine token: link expanders, screenshot generators, SEO tools
    ("Mozilla/5.0 (compatible; Unshorten.It!/1.0)", "bot", "*", "unshorten.it link expander"),
    ("Mozilla/5.0 (compatible; Screaming Frog SEO Spider/19.0)", "bot", "*", "Screaming Frog SEO Spider docs"),
    ("Mozilla/5.0 (compatible; Litmus/1.0; email previews)", "bot", "*", "Litmus email previews"),
    ("Mozilla/5.0 (Windows NT 10.0) Chrome/90.0 Safari/537.36 Screenshot", "bot", "*", "screenshot services"),
    # 6. People who are not machines
    ("Mozilla/5.0 (H11T; like Gecko; OpenBrowser) NetFront/3.4", "person", "*", "woothee testsets: NetFront on a phone"),
    (
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; http://intranet.example.com/)",
        "person", "IE", "corporate IE builds (uap-core test_ua)",
    ),
    ("Mozilla/5.0 (Linux; Android 12; CUBOT NOTE 20) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0 Mobile Safari/537.36", "person", "*", "Matomo smartphone fixtures"),  # noqa: E501
    ("Odyseo/2.1 (Windows NT 10.0; Win64)", "person", "*", "'seo' inside another product's name"),
    ("Mailbird/2.9.0", "person", "Mailbird", "Matomo pim fixtures: a mail client as Name/version"),
    # 7. Mail clients named
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Betterbird/115.10.0", "person", "Thunderbird", "Betterbird, a Thunderbird fork"),  # noqa: E501
    ("Mozilla/5.0 (X11; Linux x86_64; rv:91.0) Gecko/20100101 Interlink/52.9.8224", "person", "Thunderbird", "Interlink Mail, a Thunderbird fork"),  # noqa: E501
    ("Mozilla/5.0 (Windows NT 6.1; rv:24.0) Gecko/20100101 Firefox/24.0 ZDesktop/7.2.7_GA_1614", "person", "Zimbra Desktop", "Zimbra Desktop"),  # noqa: E501
    ("Mail/3445.104.11 CFNetwork/1206 Darwin/20.1.0", "person", "Apple Mail", "Apple Mail's CFNetwork string"),
    ("Thunderbird/128.5.0", "person", "Thunderbird", "shared/email-clients-notes.md"),
    # 8. Strings that name no system and no client that a parser or a list of clients knows
    ("YandeG 1.03", "bot", "*", "CrawlerDetect fixtures (crawlers.txt): a bare name and version"),
    ("Whibse", "bot", "*", "CrawlerDetect fixtures (crawlers.txt): a bare name"),
    ("Mozilla/4.0 (compatible; Arachmo)", "bot", "*", "CrawlerDetect fixtures: a crawler's '(compatible; Name)' with no system"),  # noqa: E501
    ("Enigma Browser", "person", "*", "isbot 1.0.1 browsers.txt: a client that calls itself a browser"),
    ("Viber", "person", "*", "Matomo mobile_app fixtures: an app that Matomo's client list knows"),
    ("GOGGalaxyClient/2.0.20.39 (GOG Galaxy) 83b6745cff679691b69876bc7ee33e05e5d90bda (win10 x64)", "person", "*", "Matomo desktop fixtures: a desktop app"),  # noqa: E501
    # 9. Contacts written out against harvesters, monitors, link checkers, thumbnailers, scanners, feeds, webhooks
    ("Surphace Scout&v4.0 - scout at surphace dot com", "bot", "*", "CrawlerDetect fixtures: 'name at host dot com'"),
    ("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0; PTST 2.385)", "bot", "*", "WebPageTest's older agents (CrawlerDetect fixtures)"),  # noqa: E501
    ("Mozilla/5.0 (Windows NT 6.1; Neustar WPM) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/48.0.2564.82 Safari/537.36", "bot", "*", "Neustar Web Performance Management (CrawlerDetect fixtures)"),  # noqa: E501
    ("Link Valet Online 1.1", "bot", "*", "a link checker (CrawlerDetect fixtures)"),
    ("WhereGoes? Redirect Tracer/1.0", "bot", "*", "a redirect tracer (CrawlerDetect fixtures)"),
    ("Netsparker", "bot", "*", "Invicti (Netsparker) web vulnerability scanner"),
    ("Bewica-security-scan", "bot", "*", "a security scanner (CrawlerDetect fixtures)"),
    ("Norton-Safeweb", "scanner", "*", "Norton Safe Web, a URL reputation checker (CrawlerDetect fixtures)"),
    ("Mozilla/4.0 (compatible; Cerberian Drtrs Version-3.2-Build-0)", "scanner", "*", "Blue Coat's Cerberian URL rating service"),  # noqa: E501
    ("Fiery%20Feeds/272 CFNetwork/1125.2 Darwin/19.4.0 (x86_64)", "bot", "*", "Fiery Feeds, an RSS reader (CrawlerDetect fixtures)"),  # noqa: E501
    ("GitHub-Hookshot/a6f2714", "bot", "*", "GitHub's webhook deliveries (docs.github.com, webhooks)"),
    ("Mozilla/4.0 (compatible; Advanced Email Extractor v2.61)", "bot", "*", "an address extractor (CrawlerDetect fixtures)"),  # noqa: E501
    # 10. HTTP clients and runtimes named anywhere, build triplets, headless engines
    ("EventMachine HttpClient", "bot", "*", "em-http-request (CrawlerDetect fixtures)"),
    ("Mojolicious (Perl)", "bot", "*", "Mojo::UserAgent's default User-Agent"),
    ("pnpm/6.18.0 npm/? node/v16.11.1 linux x64", "bot", "*", "pnpm's User-Agent (CrawlerDetect fixtures)"),
    ("Sqworm/2.9.85-BETA (beta_release; 20011115-775; i686-pc-linux-gnu)", "bot", "*", "a GNU target triplet (CrawlerDetect fixtures)"),  # noqa: E501
    ("Mozilla/5.0 Chrome/10.0.613.0 Safari/534.15 Zombie.js/5.0.7", "bot", "*", "Zombie.js, a headless browser"),
    # 7. Mail clients named (continued)
    ("Polymail/1.47 (ctrlla.Polymail; build:64; OS X 10.12.6) Alamofire/4.5.1", "person", "Polymail", "Polymail (CrawlerDetect fixtures); 'ymail' inside its name is not Yahoo's"),  # noqa: E501
    ("PocoMail/4.1.3650", "person", "PocoMail", "PocoMail (isbot 1.0.1 browsers.txt)"),
    ("Foxmail 7, 2, 0, 111[fr]", "person", "Foxmail", "Foxmail 7 (CrawlerDetect fixtures)"),
    # 11. A mail client's name in any case, its words joined any way; never a name inside an address or a crawler's comment
    ("Pocomail/4.8.4400", "person", "PocoMail", "PocoMail spelled 'Pocomail' (isbot 1.0.1 browsers.txt)"),
    ("Canary%20Mail/397 CFNetwork/893.13.1 Darwin/17.4.0 (x86_64)", "person", "Canary Mail", "Canary Mail on Apple's CFNetwork (CrawlerDetect fixtures)"),  # noqa: E501
    ("CanaryMail/2.50 (Macintosh; Mac OS X 14.1)", "person", "Canary Mail", "Canary Mail's name written without its space, as its bundle calls it"),  # noqa: E501
    ("KMail/5.24.3 (X11; Linux x86_64)", "person", "KMail", "KDE's KMail, as KDE writes its name"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 15_3_1 like Mac OS X) AppleWebKit/534.46 (KHTML, like Gecko) Mobile/9B176 YJApp-IOS jp.co.yahoo.ymail/7.4.1", "person", "Yahoo Mail", "Yahoo! JAPAN Mail's bundle name with its version (Matomo pim fixtures)"),  # noqa: E501
    ("PhxBot/0.1 (phxbot@protonmail.com)", "bot", "*", "a crawler's contact at a mail service (crawler-user-agents)"),
    ("Mozilla/5.0 (compatible; Linux x86_64; Mail.RU_Bot/2.0; +http://go.mail.ru/help/robots)", "bot", "*", "Mail.Ru's crawler, its address naming the mail service (Matomo bot fixtures)"),  # noqa: E501
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; https://top.mail.ru/passremind) AppleWebKit/537.22 (KHTML, like Gecko)", "bot", "*", "a mail service's address in a fetcher's comment (crawler-user-agents)"),  # noqa: E501
    ("Mozilla/5.0 (compatible; Mail.RU/2.0)", "bot", "*", "Mail.Ru's crawler in a '(compatible; Name)' comment with no system (CrawlerDetect fixtures)"),  # noqa: E501
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) kontact/4.13.3 Safari/534.34", "person", "KMail", "Kontact, KDE's suite around KMail (KDE's docs)"),  # noqa: E501
    ("Airmail/4.0 (Macintosh; Mac OS X 13.4)", "person", "Airmail", "Airmail with a slash after its name"),
    ("Spark Desktop/3.10.1 (Macintosh; Mac OS X 14.1)", "person", "Spark", "Readdle's Spark Desktop, its words apart"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) EdisonMail/1.30 Chrome/110.0 Safari/537.36", "person", "Edison Mail", "Edison Mail (list of e-mail client software)"),  # noqa: E501
    ("Mozilla/5.0 (compatible; MSIE 7.0; Windows NT 6.1; GroupWise 18.4)", "person", "GroupWise", "Micro Focus GroupWise (list of e-mail client software)"),  # noqa: E501
    ("Unibox/428 CFNetwork/811.5.4 Darwin/16.6.0 (x86_64)", "person", "Unibox", "Unibox (Matomo mobile_app fixtures)"),
    # 12. Command-line shells, download managers, site copiers, build tools; bare names the parser only guesses a phone for
    ("Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3031", "bot", "*", "PowerShell's Invoke-WebRequest default (Microsoft Learn)"),  # noqa: E501
    ("Mozilla/5.0 (compatible; Qualidator.com Bot 1.0;)", "bot", "*", "'Bot' as a word of its own (CrawlerDetect fixtures)"),
    ("FlashGet", "bot", "*", "a download manager"),
    ("Offline Explorer/2.5", "bot", "*", "an offline site copier (MetaProducts)"),
    ("Gradle/8.5 (Linux;6.5.0;amd64) (Eclipse Adoptium;17.0.9;17.0.9+9)", "bot", "*", "Gradle's dependency downloads (Gradle docs)"),
    ("npm/10.2.4 node/v20.11.0 linux x64 workspaces/false", "bot", "*", "npm's registry requests (npm docs)"),
    ("httpRequest", "bot", "*", "an HTTP library's name, camel-cased (CrawlerDetect fixtures)"),
    ("WebClient/1.0", "bot", "*", ".NET's WebClient: ua-parser guesses a 'Generic Feature Phone' from the shape alone (CrawlerDetect fixtures)"),  # noqa: E501
    ("Dorado WAP-Browser/1.0", "person", "*", "a feature phone's WAP browser (uap-core test_device)"),
    ("Windows-Media-Player/12.00.19041.1", "bot", "*", "a media player as the first product (Matomo mediaplayer fixtures' shape)"),  # noqa: E501
    ("QuickTime/7.6.6 (qtver=7.6.6;cpu=IA32;os=Mac 10.6.8)", "bot", "*", "QuickTime (Matomo desktop fixtures)"),
    ("SAMSUNG-GT-S5260P/S5260PXXKF2 SHP/VPP/R5 Dolfin/2.0 NexPlayer/3.0 SMM-MMS/1.2.0 profile/MIDP-2.1 configuration/CLDC-1.1 OPN-B", "person", "*", "a phone's browser naming its media component (uap-core test_device)"),  # noqa: E501
]  # fmt: skip


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """No address ranges: only the User-Agent speaks."""
    return Classifier(AddressRanges([]), AddressRanges([]))


@pytest.mark.parametrize(("agent", "kind", "client", "source"), BY_CLASS, ids=[row[3][:40] for row in BY_CLASS])
def test_each_class_of_string_gets_its_kind(classifier, agent, kind, client, source):
    opener = classifier.classify(agent, RESIDENTIAL)
    assert opener.kind == kind, f"{agent!r} ({source})"
    if client != "*":
        assert opener.client == client


def test_every_hostile_string_is_a_machine(classifier):
    printable = [agent for agent in hostile_agents() if agent.strip()]
    labels = {agent: classifier.classify(agent, RESIDENTIAL) for agent in printable}
    people = [agent[:40] for agent, opener in labels.items() if opener.kind != "bot"]
    assert people == [], "no hostile string is noted as a person reading"
    blank = [agent for agent in hostile_agents() if not agent.strip()]
    assert blank and {classifier.classify(agent, RESIDENTIAL) for agent in blank} == {
        classifier.classify("", RESIDENTIAL)
    }, "white space alone is read as no User-Agent at all"


def test_a_string_past_the_limit_is_a_machine_whatever_it_names(classifier):
    padded = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0 " + "x" * MAX_AGENT_LENGTH
    assert classifier.classify(padded, RESIDENTIAL) == Opener("Thunderbird", "bot")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=2 * MAX_AGENT_LENGTH), st.one_of(st.none(), st.ip_addresses().map(str), st.text(max_size=20)))
def test_any_string_gets_a_well_formed_label(classifier, agent, address):
    opener = classifier.classify(agent, address)
    assert opener.kind in KINDS
    assert isinstance(opener.client, str) and len(opener.client) <= MAX_AGENT_LENGTH
    assert isinstance(opener.via, str)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["Mozilla/5.0", "(", ")", "; ", "bot", "_", "a/1", " ", "%41", "@", "like Gecko"])))
def test_any_sequence_of_rule_fragments_gets_a_well_formed_label(classifier, fragments):
    opener = classifier.classify("".join(fragments), RESIDENTIAL)
    assert opener.kind in KINDS
