"""The User-Agent rules behind the labels: mail clients, image proxies, scanners and machine evidence, as compiled patterns.

Patterns that start with a literal run on Python's re; those with long alternations or case-free
matching run on PCRE2's compiled matcher, which takes a tenth of re's time on a hostile 512 characters.
"""

from __future__ import annotations

import re

import pcre2

# Image proxies of webmail services: a real open whose reader's address is hidden.
# These run before any bot check: a generic bot list once dropped every Gmail open.
PROXIES = (
    (re.compile(r"GoogleImageProxy|ggpht\.com"), "Gmail", "through Google's image proxy"),
    (re.compile(r"YahooMailProxy"), "Yahoo Mail", "through Yahoo's image proxy"),
    (re.compile(r"SuperhumanProxy"), "Superhuman", "through Superhuman's image proxy"),
    (re.compile(r"SeznamEmailProxy"), "Seznam Email", "through Seznam's image proxy"),
    (re.compile(r"RamblerMail"), "Rambler Mail", "through Rambler's image proxy"),
    (re.compile(r"secureurl\.fwdcdn\.com"), "ukr.net Mail", "through ukr.net's image proxy"),
)

# Gmail's content sampling fetches images ahead of any reading, like its prefetch.
GMAIL_SAMPLING = re.compile(r"Gmail-content-sampling")

# Mail security scanners: gateways and URL checkers that fetch a message's images.
# Web filters and proxies too (Websense/Forcepoint, Blue Coat and its Cerberian rating service, Zscaler, FortiGuard,
# Norton Safe Web, ...): a mail gateway
# fetches every image of every message it scans, and a web filter checks a link before its user gets it.
SCANNER_AGENTS = pcre2.compile(
    r"Barracuda|Mimecast|Proofpoint|IronPort|Sophos|Trend ?Micro|TMUFE|FireEye|Symantec|Kaspersky|xforce-security|"
    r"Google-Safety|VirusTotal|CloudflareRadarURLScanner|PhishBucket|urlscan\.io|Websense|Forcepoint|"
    r"Blue ?Coat|\bZscaler|Fortinet|FortiGuard|FortiGate|McAfee Web Gateway|Trustwave|Check ?Point|Netskope|"
    r"Cloudmark|SpamTitan|Hornetsecurity|Libraesva|Vade ?Secure|Avanan|Ironscales|Cisco[ -]Secure|"
    r"Cisco[ -]Umbrella|OpenDNS|Palo ?Alto|Cyren|SonicWall|Norton-Safe ?web|Safe ?Web\b|Cerberian",
    pcre2.I,
)

# Between two letters or digits of a product's name, a space or a hyphen may be written as either, as an
# underscore, or left out: apps name themselves as they like ("Canary Mail", "CanaryMail", "Canary-Mail";
# "K-9 Mail", "K9Mail"), and on Apple's CFNetwork the space arrives as "%20" (decoded before matching).
# A character class or an escape is left as written: "[A-Za-z]" keeps its ranges.
_NAME_SEPARATOR = re.compile(r"\\.|\[(?:\\.|[^\]\\])*\]|(?<=[A-Za-z0-9])[ -](?=[A-Za-z0-9])")


def product_name(pattern: str) -> re.Pattern:
    """Compile a product-name pattern to match whatever the case and however its words are joined."""
    joined = _NAME_SEPARATOR.sub(lambda found: "[ _-]?" if found.group(0) in " -" else found.group(0), pattern)
    return re.compile(joined, re.IGNORECASE)


# Web and e-mail addresses: a name inside one is a domain or a mailbox ("go.mail.ru/help",
# "bot@protonmail.com"), not the client that sent the string; they are taken out before naming a mail client.
# An app's bundle name with its version ("jp.co.yahoo.ymail/7.4.1") is a product, not an address.
# Each alternative starts only where a run of name characters starts, and never gives back what it took:
# linear on any string (a 512-character run of one letter would cost quadratic time otherwise).
ADDRESSES = re.compile(
    r"(?:https?://|www\.)[^\s;)]*+|(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++"
    r"|(?<![\w.-])[\w-]++(?:\.[\w-]++)++/(?!v?\d)[^\s;)]*+"
)

# Crawlers write "Mozilla/5.0 (compatible; Name/1.0; +url)" and browsers put a system in that comment; a
# mail client's name inside one with no system ("(compatible; Mail.RU/2.0)") is a crawler's own name.
CRAWLER_COMMENT = re.compile(r"\(compatible;([^()]*)\)", re.IGNORECASE)

# Mail clients by their own token, checked before ua-parser: many embed a
# browser engine that the parser would name instead (eM Client as Chrome, ...).
# Case is never evidence: the same client writes "PocoMail" and "Pocomail", "KMail" and "kmail".
MAIL_CLIENTS = tuple(
    (product_name(pattern), name)
    for pattern, name in (
        (r"Outlook-iOS", "Outlook for iOS"),
        (r"Outlook-Android", "Outlook for Android"),
        (r"MacOutlook|^Outlook/[\d.]+ .*Darwin", "Outlook for Mac"),
        (r"OneOutlook/", "Outlook for Windows"),  # the new Outlook, an Edge WebView
        (r"Microsoft Outlook|Microsoft Office Outlook|MS-Office", "Outlook"),
        (r"WindowsMail/", "Windows Mail"),
        (r"Outlook-Express/", "Windows Live Mail"),
        (r"Thunderbird|Icedove|Betterbird|Interlink/|Epyrus|FossaMail", "Thunderbird"),  # and its forks
        (r"Zimbra Desktop|ZDesktop", "Zimbra Desktop"),
        (r"^Mail/[\d.]+ CFNetwork/", "Apple Mail"),  # Mail's own HTTP stack, without WebKit
        (r"\bGeary/", "Geary"),
        (r"Claws Mail", "Claws Mail"),
        (r"Sylpheed", "Sylpheed"),
        (r"^(?:Neo)?Mutt/", "Mutt"),
        (r"^Alpine/", "Alpine"),
        (r"Pegasus Mail", "Pegasus Mail"),
        (r"Opera Mail", "Opera Mail"),
        (r"\bmailapp/", "MailApp"),
        (r"SeaMonkey|Iceape", "SeaMonkey"),
        (r"Spicebird/", "Spicebird"),
        (r"^Airmail\b", "Airmail"),
        (r"eM Client", "eM Client"),
        (r"BlueMail", "BlueMail"),
        (r"Postbox", "Postbox"),
        (r"Lotus-Notes", "Lotus Notes"),
        (r"^Barca(Pro)?/", "Barca"),
        (r"^The Bat!", "The Bat!"),
        (r"^Evolution/", "Evolution"),
        (r"kmail|kontact/", "KMail"),  # and Kontact, KDE's suite around it
        (r"Mailbird/", "Mailbird"),
        (r"Mailspring/", "Mailspring"),
        (r"Foxmail[/ ]", "Foxmail"),  # "Foxmail/7.2", "Foxmail 7, 2, 0, 111[fr]"
        (r"PocoMail", "PocoMail"),
        (r"MailMaster", "Mail Master"),
        (r"(?<![A-Za-z])ymail|Yahoo Mail|YahooMobileMail|YahooMobile/1\.0 \(mail", "Yahoo Mail"),
        (r"NaverMailApp", "NAVER Mail"),
        (r"^MailBar/", "MailBar"),
        (r"ExchangeWebServices/.* Mail/", "Apple Mail"),
        (r"\bSpark(?:.?Desktop)?/|Readdle", "Spark"),
        (r"Superhuman", "Superhuman"),
        (r"Zoho Mail", "Zoho Mail"),
        (r"\bNewton/|CloudMagic", "Newton"),
        (r"Tutanota", "Tutanota"),
        (r"Fastmail", "Fastmail"),
        (r"^Eudora|Eudora/", "Eudora"),
        (r"Mail\.Ru Mail|MailRuMail|ru\.mail\.mailapp|Mail\.Ru/|MRMail/", "Mail.ru"),
        (r"Sparrow/", "Sparrow"),
        (r"Android-Gmail/|GoogleGmail|com\.google\.Gmail", "Gmail"),
        (r"Polymail", "Polymail"),
        (r"Proton Mail", "Proton Mail"),
        (r"FairEmail", "FairEmail"),
        (r"K-9 Mail", "K-9 Mail"),
        (r"Canary Mail", "Canary Mail"),
        # More desktop and phone clients from the public lists of e-mail clients (Wikipedia's "List of
        # e-mail client software", Matomo's and ua-parser-js's lists), each by its own product token.
        (r"IncrediMail", "IncrediMail"),
        (r"GroupWise", "GroupWise"),
        (r"^Mulberry/", "Mulberry"),
        (r"MailMate/", "MailMate"),
        (r"^Unibox/", "Unibox"),
        (r"Edison Mail", "Edison Mail"),
        (r"Aqua Mail", "Aqua Mail"),
        (r"\bmyMail/", "myMail"),
        (r"Yandex\.Mail|Yandex Mail", "Yandex Mail"),
        (r"QQMail/", "QQ Mail"),
        (r"Nylas Mail", "Nylas Mail"),
        (r"Mailplane/", "Mailplane"),
        (r"Mimestream/", "Mimestream"),
        (r"^Balsa/", "Balsa"),
        (r"Trojit[aá]/", "Trojitá"),
        (r"^Becky!", "Becky!"),
        (r"\bHiri/", "Hiri"),
    )
)

# All the mail clients' names in one case-free pattern, PCRE2's compiled matcher: most strings name none, and
# one pass tells so in microseconds where fifty case-free searches take half a millisecond on a hostile string.
ANY_MAIL_CLIENT = pcre2.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in MAIL_CLIENTS), pcre2.I)

# A product token ending in bot, spider or crawler: "Googlebot/2.1", "(compatible; bingbot",
# "360Spider". Case matters: a phone model in the Android device field is written
# "CUBOT" or "XBot", never with a lower-case letter or digit before "bot".
BOT_TOKEN = pcre2.compile(r"[a-z0-9](?:bot|Bot)(?![a-z])|(?<![A-Za-z])Bot(?![a-z])|[Ss]pider(?![a-z])|[Cc]rawler")
# Phone models that end in "bot" (CUBOT, XBot): removed before looking for a bot's token.
PHONE_MODELS = pcre2.compile(r"\b(?:cubot|xbot)\b", pcre2.I)
# A contact for the operator: an e-mail address, written out or hidden ("(at)").
# One character before the "@" is enough to find one; a run there would be retried from every start.
# Written out against address harvesters too: "scout at surphace dot com".
CONTACT = pcre2.compile(
    r"[\w.+-]@[\w-]+\.[a-z]{2}|\(at\)|\[at\]|[\w.-] at [\w-]+(?: dot [\w-]+)* dot [a-z]{2}", pcre2.I
)
# A web address: a crawler's "+http://...", a monitor's "(https://...)". People's clients seldom carry
# one, and those that do name the device they run on or call themselves a browser (below).
CONTACT_URL = pcre2.compile(r"https?://|www\.", pcre2.I)
# A consumer device or system that an app names beside its homepage ("iOS podcast app", "Apple Watch"),
# or a client that calls itself a browser ("QtWeb Internet Browser/1.7 http://www.QtWeb.net"):
# such an address is an app's homepage, not a crawler operator's contact.
# Corporate builds of Internet Explorer name their intranet in the comment; a crawler's contact is "+http".
HOMEPAGE_OF_APP = pcre2.compile(
    r"\b(?:iOS|iPhone|iPad|Apple Watch|watchOS|Android)\b|Browser|^Mozilla/4\.0 \(compatible; MSIE [\d.]+; Windows [^+]*$"
)
# An HTTP library's shape: only `product/version` tokens, with no comment naming a platform
# ("curl/8.5.0", "ApacheBench/2.3", "collectd/5.5.1").
LIBRARY_SHAPE = pcre2.compile(r"^[A-Za-z][\w.-]*/v?\d[\w.+-]*(?: [A-Za-z][\w.-]*/v?\d[\w.+-]*)*$")
# Browsers that send only their own product token: text-mode browsers, and products named "...Browser".
# They beat the library shape above ("w3m/0.5.3", "Lynx/2.8.9", "PrivacyBrowser/1.0").
# Crawlers write "Mozilla/5.0 (compatible; Name/1.0; +url)"; browsers put a system in that comment
# ("compatible; MSIE 8.0; Windows NT 6.1"). Without the word, a comment is only a comment.
COMPATIBLE = pcre2.compile(r"\(compatible; ?", pcre2.I)
# A client that calls itself a browser or explorer ("Enigma Browser", "Ace Explorer") is one, listed or not.
SELF_NAMED_CLIENT = pcre2.compile(r"Browser|Explorer|Navigator", pcre2.I)
PLAIN_BROWSERS = pcre2.compile(r"^(?:w3m|Lynx|Links|ELinks|amaya|Dillo|NetSurf)/|Browser/", pcre2.I)
# A fetcher's name written inside the engine's comment: browsers write "(KHTML, like Gecko)" and
# nothing more, Google's fetchers "(KHTML, like Gecko; Google-Assess)".
# Old device browsers (NetFront: "(H11T; like Gecko; OpenBrowser)") write a comment of their own.
NAMED_IN_ENGINE = pcre2.compile(r"KHTML, like Gecko; ?[A-Za-z]")
# Google's fetchers and services name themselves "Google-<Purpose>" ("Google-AMPHTML",
# "Google-Site-Verification"); Google's apps for people do not.
GOOGLE_FETCHER = pcre2.compile(r"\bGoogle-[A-Z]")
# HTTP libraries and command-line tools, named as the first product of the string.
LIBRARIES = pcre2.compile(
    r"^(?:curl|libcurl|PycURL|Wget|python-requests|Python-urllib|Python/|aiohttp|httpx|HTTPie|urllib3|Scrapy|"
    r"Go-http-client|Go |Java/|Apache-HttpClient|Jakarta Commons|okhttp|axios|node-fetch|node-superagent|undici|"
    r"got |PostmanRuntime|insomnia|Dart/|Faraday|Ruby|rest-client|Typhoeus|Excon|http\.rb|Mechanize|"
    r"libwww-perl|lwp-|LWP::|WWW-Mechanize|PHP|Guzzle|GuzzleHttp|Zend_Http|Laminas|Symfony|RestSharp|"
    r"WinHttp|WinHTTP|CFNetwork/|Deno|reqwest|hyper|Apache-CXF|Jersey|unirest|"
    r"aws-sdk|Boto|ElasticMapReduce|Hadoop|AHC|fasthttp|Embarcadero|Indy Library|lua-resty|"
    r"colly|Nutch|Jetty|Wordpress|WordPress|Photon|http_?request|nghttp|Nokogiri|"
    r"node(?:js)?/|Node\.js|Bun/|Microsoft-WebDAV|WebDAV|DAVClient|Microsoft-CryptoAPI|Microsoft BITS|"
    r"Apache-HttpAsyncClient|Apache Synapse|Java(?:HTTP|Http)|Twisted|httplib|Zend|Yahoo Pipes|cpp-httplib|"
    r"[\w.-]*http[\w.-]*client)",
    pcre2.I,
)
# Machines named anywhere in the string: discovery requests, headless browsers,
# link unfurlers, document fetchers, internet-wide scanners and monitors.
MACHINE_PRODUCTS = pcre2.compile(
    r"Existence Discovery|Protocol Discovery|Microsoft Office Discovery|GoogleDocs|Google-Apps-Script|"
    r"Google-Read-Aloud|Google Favicon|Google Web Preview|Google-Document-Conversion|FeedFetcher|"
    r"Headless|PhantomJS|SlimerJS|Zombie\.js|jsdom|HtmlUnit|Puppeteer|Playwright|Selenium|Chrome-Lighthouse|Lighthouse|"
    r"facebookexternalhit|Iframely|embedly|(?<!Technology )(?<!Technology%20)Preview|ImgProxy|Slack-|TelegramBot|"
    r"Censys|zgrab|Detectify|Netcraft|OpenVAS|Nessus|Nmap|nikto|sqlmap|Arachni|masscan|Acunetix|"
    r"Qualys|Nuclei|WPScan|probe|Probe|check_http|monitor|Monitor|Pingdom|uptime|Uptime|StatusCake|"
    r"Site24x7|Datadog|NewRelic|Zabbix|Nagios|fetcher|Fetcher|scraper|Scraper|archiver|Archiver|"
    r"validator|Validator|HTTrack|Wappalyzer|BuiltWith|\bSEO\b|\bseo[a-z]*/",
)
# A program names the runtime or library it is built on in its comment ("Apache-HttpAsyncClient/4.1.4
# (Java/1.8.0_181)", "Tool/2.0 (python-requests/2.31)"); an app on a person's device names the device too.
RUNTIME_COMMENT = pcre2.compile(
    r"\((?:[^()]*[;,]\s*)?(?:Java|CPython|Python|python-requests|okhttp|Go|go\d|node|Node\.js|"
    r"PHP|Ruby|libcurl|curl|Perl|Rust|Dart)[/ ]?v?\d[^()]*\)"
)
PERSONAL_DEVICE = pcre2.compile(
    r"Android|iPhone|iPad|iOS|Macintosh|Windows|WinNT|X11|CrOS|Mobile|Tablet|Darwin|CFNetwork"
)

# Monitoring and performance tools (WebPageTest's PTST token rides inside a normal browser string,
# "PTST/230101" or, in its older agents, "PTST 2.386"), link checkers and expanders, screenshot and
# thumbnail generators (email tools' inbox previews), SEO tools, feed readers, security scanners, webhook
# senders, e-mail address extractors and downloaders, HTTP clients named anywhere, in any case.
MACHINE_TOOLS = pcre2.compile(
    r"\bPTST[/ ]\d|GTmetrix|SpeedCurve|Catchpoint|RuxitSynthetic|Dynatrace|AppDynamics|Checkly|Freshping|"
    r"NodePing|Monitis|Montastic|HetrixTools|blackbox[_-]exporter|Prometheus|PageSpeed|Speed Insights|YSlow|"
    r"Uptime[ -]?Kuma|BetterUptime|Better Uptime|\bmonitoring\b|synthetic|unshorten|link ?expander|"
    r"url ?expander|screenshot|URL2PNG|Thumbshots|PagePeeker|Browshot|Litmus|Email ?on ?Acid|"
    r"Screaming ?Frog|Sitebulb|Semrush|Serpstat|DeepCrawl|Lumar|OnCrawl|ContentKing|Botify|SiteAudit|"
    r"Seobility|SEOkicks|SE Ranking|Ryte|RSS|Feed ?Reader|Headline-Reader|Syndication|Java\(TM\)|"
    r"Neustar|\bWPM\b|KeyCDN|Perf ?Test|SpeedKit|DebugBear|Hexometer|Anturis|alertra|Tester\b|"
    r"(?:link|url|redirect)[ _-]?(?:check|valet|test|trac|status|verif|thumb|trend)|backlink|untiny|"
    r"(?<![a-z])thumbnail|webthumb|web-?capture|shotter|imgsizer|webcollage|search ?engine|"
    r"(?<![a-z])feeds?(?![a-z])|Feedable|Reeder|security[ -]?scan|(?<![a-z])scan(?:ner)?(?![a-z])|[a-z]scan/|"
    r"Netsparker|w3af|Netlab360|webhook|hookshot|extractor|(?<![a-z])downloader\b|"
    r"http[ _-]?(?:client|components|-kit)\b|asynchttp|\bhttpc\b|http-get|Mojolicious|Snoopy|HTTPing|"
    r"HTTP::Lite|\bsiege/|Network Diagnostics|Internet Publishing Provider|PowerShell/|"
    # Media players stream audio and video; a message's images are fetched by its mail client's HTML view,
    # never by one. Only as the string's first product: phones' browsers name their media component
    # ("Dolfin/2.0 NexPlayer/3.0", "stagefright/1.2") among their own tokens.
    r"^(?:QuickTime|Windows-Media-Player|NSPlayer|VLC|LibVLC|NexPlayer|MPlayer|mpv|Lavf|GStreamer|RealMedia|"
    r"AppleCoreMedia)\b|"
    # Download managers and offline site copiers fetch files and whole sites, not a message to read;
    # build tools and package managers fetch what they build with.
    r"Download ?(?:Manager|Master|Accelerator)|iGetter|GetRight|FlashGet|\bpuf/|Offline ?Explorer|WebCopier|"
    r"Teleport ?Pro|WebZIP|WebStripper|WebReaper|SiteSnagger|"
    r"(?<![\w-])(?:Gradle|Apache-Maven|Maven|sbt|npm|yarn|pnpm|pip|Bundler|RubyGems|cargo|Homebrew|Composer|NuGet|"
    r"conda)/v?\d|"
    # A runtime named as a product ("pnpm/6.18 npm/? node/v16.11.1"), a build's target triplet ("i686-pc-linux-gnu").
    r"(?<![\w-])(?:node|Node\.js|CPython|Python|Perl|PHP|Ruby)/v?\d|"
    r"\b(?:i[3-6]86|x86_64|amd64|aarch64|powerpc\w*|sparc\w*)-[a-z]+-[\w-]*(?:linux|freebsd|darwin|mingw|cygwin|solaris)",
    pcre2.I,
)
# A person's client starts with a product's name (RFC 9110: User-Agent = product *(RWS (product / comment)),
# "Firefox 3.0.5", "Maemo Browser"); injection payloads and shell commands start with code or carry it
# (OWASP's test strings: "<script>", "' OR 1=1--", "() { :; };", "${jndi:", "../../etc/passwd").
PRODUCT_START = re.compile(r"[(\[]?[A-Za-z][A-Za-z0-9]")  # phones may open with a comment: "(HTC/bravo/...)"
CODE = pcre2.compile(
    r"[<>{}`\\]|\$[({]|&&|\.\./|--\s*$|'\s*(?:or|and|union|;|--)|\bunion\s+(?:all\s+)?select\b|"
    r"\bselect\b.+\bfrom\b|/etc/passwd|/bin/(?:ba)?sh|\bsleep\s*\(|\bwaitfor\s+delay\b|[\x00-\x08\x0b-\x1f\x7f]",
    pcre2.I,
)

# WebKit without Safari's tokens is Apple Mail's own view.
APPLE_MAIL = pcre2.compile(r"AppleWebKit/[\d.]+ \(KHTML, like Gecko\)(?: Mobile(?:/\w+)?)?$")
# In an app built on Electron the app's own product comes just before Chrome's.
ELECTRON_APP = pcre2.compile(r"\(KHTML, like Gecko\) (?:\S+ )*?([A-Za-z][\w.%-]*?)/[\w.-]+ Chrome/")
# Parser names that say how a client is built, not which client it is.
ENGINE_NAMES = frozenset({"Other", "Electron", "Mobile Safari UI/WKWebView"})
# Patterns of the crawler list that also name people's apps and phones (WhatsApp, HTC Butterfly,
# ViewSonic, the Sogou and Coc Coc browsers, ...): left out, the rest of the list is used as it is.
CRAWLER_LIST_EXCEPTIONS = frozenset(
    {
        "WhatsApp", "Butterfly", "Sonic", "008\\/", "Sogou", "Fluid", "Viber", "Blackboard", "Freespoke\\/",
        "Podimo", "Code\\/1\\.", "MetaIAB Facebook", "okhttp", "Notion\\/", "Instapaper\\/", "Wayback",
        "Overcast\\/", "splash Version\\/", "coccoc", "RED\\/", "AP3A\\.240617\\.008",
    }
)  # fmt: skip
# A person's client names the device or system it runs on (Cronet: the network stack of Android apps);
# a string of bare `product/version` tokens with none of these is a program's.
PLATFORM = pcre2.compile(
    r"Windows|Win(?:NT|32|64|9[58]|CE)|Macintosh|Mac ?OS|Mac_OS|Darwin|CFNetwork|Linux|Android|iPhone|iPad|iPod|"
    r"iOS|watchOS|tvOS|CrOS|X11|BlackBerry|BB10|Symbian|Series ?[46]0|S60|Nokia|MIDP|CLDC|Opera|Mobile|Tizen|"
    r"KaiOS|webOS|PlayStation|Xbox|Nintendo|SmartTV|SMART-TV|Roku|BSD|SunOS|Amiga|Haiku|OS/2|BeOS|Fuchsia|"
    r"HarmonyOS|Dalvik|Cronet|SAMSUNG|Samsung|UCWEB|UC ?Browser|Obigo|NetFront|Profile/|Device/|\([^()]*;",
    pcre2.I,
)
