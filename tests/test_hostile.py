"""Hostile input, end to end: poisoned XML, bombs, drips, loops, lying charsets, SSRF, runaway pages,
text that is not text, and feed text that tries to act on the chat or the mail it is sent to.

The promise under test (README, "Hostile input"): in each case the result is a clear log line and
nothing worse. The daemon keeps running, memory stays bounded, other feeds' alerts still go out.

Every server here is real and local: the news site (servers.Site), the webhook apprise posts to,
an SMTP server, and tests/hostile.py's raw-socket server for the behaviours no polite server
library allows. The 200 MB bombs are built once per module (``hostile``).
"""

from __future__ import annotations

import gzip
import html
import re
import sqlite3
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from pathlib import Path

import pytest
from conftest import Result, assert_no_traceback, fetch, invoke_monitor, monitor_env, query, wait_for, write_config
from content import ARTICLES, item_for, page, rss
from hostile import (
    HostileServer,
    billion_laughs,
    drip,
    endless_redirect,
    external_entity,
    quadratic_blowup,
    respond,
    unterminated_chunks,
)
from servers import Mailbox, Site, Webhook

from monitor.errors import (
    BlockedAddress,
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitor.feeds import parse_feed
from monitor.fetch import Limits

MB = 1024 * 1024
CHIPS = ARTICLES["en-chips"]
GERMAN = ARTICLES["de-exportkontrollen"]
# what UTF-8 read as a legacy single-byte charset looks like ("Ã¼" for "ü", "Ă¤" for "ä"), and what an
# undecodable byte becomes
MOJIBAKE = ("Ã", "Â", "Ă", "\ufffd")
NOT_A_FEED = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>Welcome</h1>" \
             b"<p>Our new website. <a href='/news'>News</a></p></body></html>"


# helpers -----------------------------------------------------------------------------------------

def feed_route(body: bytes, content_type: str = "application/rss+xml"):
    return lambda conn: respond(conn, body, content_type=content_type)


def check(config: Path, *args: str) -> Result:
    """`monitor check -v` (info lines: why a page was not fetched, why a feed failed)."""
    return invoke_monitor("check", "-v", "--config", str(config), *args)


def database_text(db: Path) -> str:
    """Every value the database holds, as text; compressed blobs (the articles' texts) uncompressed."""
    values = []
    with sqlite3.connect(db) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        try:
                            value = zlib.decompress(value)
                        except zlib.error:
                            pass
                        value = value.decode("utf-8", "replace")
                    values.append(str(value))
    return "\n".join(values)


def sent(hook_messages: list[dict]) -> str:
    return "\n".join(m.get("title", "") + "\n" + m.get("message", "") for m in hook_messages)


def from_feed(messages: list[dict], feed: str) -> list[dict]:
    return [m for m in messages if f"\nFeed: {feed}\n" in m["message"]]


def log_lines(stderr: str, event: str, **fields: str) -> list[str]:
    """The key=value log lines of one event (and these field values)."""
    lines = [line for line in stderr.splitlines() if f" event={event} " in line + " "]
    for key, value in fields.items():
        lines = [line for line in lines if f" {key}={value} " in line + " "]
    return lines


def literal(text: str) -> str:
    """How a feed carries ``text`` as text: escaped once more than markup (feedparser unescapes the XML,
    monitor unescapes the HTML), so '<!channel>' or '<b>' survive as characters, not as tags."""
    return html.escape(text, quote=False)


def header_drip(conn) -> None:
    """A status line, then the headers one byte a second: no body ever starts."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for byte in b"Content-Type: application/rss+xml\r\nX-Padding: " + b"a" * 600:
        conn.sendall(bytes([byte]))
        time.sleep(1)


@pytest.fixture(scope="module")
def hostile():
    """The raw-socket server, with the three 200 MB bombs built once and the standard behaviours routed."""
    with HostileServer() as server:
        for kind in ("gzip", "deflate", "br"):
            server.routes[f"/bomb/{kind}"] = server.bomb(kind)
        server.routes["/redirect-bomb"] = server.redirect_with_bomb("/missing")   # the redirect leads to a 404
        server.routes["/loop"] = endless_redirect
        server.routes["/drip"] = drip
        server.routes["/header-drip"] = header_drip
        server.routes["/chunks"] = unterminated_chunks
        server.routes["/quadratic"] = feed_route(quadratic_blowup())
        server.routes["/laughs"] = feed_route(billion_laughs())
        server.routes["/html"] = feed_route(NOT_A_FEED)    # a home page, even labelled as a feed
        yield server


# the hostile feeds of the daemon and memory tests: name -> path on the hostile server
HOSTILE_FEEDS = {
    "gzip-bomb": "/bomb/gzip",
    "deflate-bomb": "/bomb/deflate",
    "brotli-bomb": "/bomb/br",
    "redirect-bomb": "/redirect-bomb",
    "endless-redirect": "/loop",
    "drip": "/drip",
    "html-not-feed": "/html",
}


# XML -------------------------------------------------------------------------------------------

SECRET = "SECRET-d41d8cd98f00b204-do-not-leak"


def _xxe_feeds(path: str) -> dict[str, bytes]:
    """External entities every way a feed can ask for them; each item's title matches a rule."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def rss_with(name: str) -> str:   # one GUID (so one article link) each: articles are one per link
        return external_entity(path).decode().replace("<guid>x1</guid>", f"<guid>{name}</guid>")

    return {
        "xxe": rss_with("xxe").encode(),
        "xxe-utf16": rss_with("xxe-utf16").replace('<?xml version="1.0"?>',
                                                    '<?xml version="1.0" encoding="utf-16"?>').encode("utf-16"),
        "xxe-ebcdic": rss_with("xxe-ebcdic").replace('<?xml version="1.0"?>',
                                                      '<?xml version="1.0" encoding="cp037"?>').encode("cp037"),
        "xxe-bare-path": rss_with("xxe-bare-path").replace("file://", "").encode(),
        "xxe-parameter": (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % ext SYSTEM "file://{path}"> %ext;]>\n'
            '<rss version="2.0"><channel><title>p</title><item><title>Entity List grows</title>'
            "<guid>xxe-parameter</guid><description>Entity List</description></item></channel></rss>"
        ).encode(),
        "xxe-atom": (
            f'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file://{path}">]>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>a</title><id>urn:a</id>'
            f"<updated>{now}</updated><entry><title>Entity List &xxe;</title><id>urn:a:1</id>"
            f"<updated>{now}</updated><summary>&xxe;</summary></entry></feed>"
        ).encode(),
    }


def _quadratic_with_terms() -> bytes:
    """The quadratic blow-up, its entity spelling a rule's term: were it expanded, the item would alert."""
    body = quadratic_blowup(entity_size=100_000, uses=500)       # 50 MB if expanded
    return body.replace(b'"' + b"A" * 100_000 + b'"', b'"' + b"Entity List " * 8_000 + b'"') \
        .replace(b"<guid>q1</guid>", b"<guid>q2</guid>")


@dataclass
class XmlRun:
    result: Result
    received: list[dict]
    db: Path
    xxe_feeds: list[str]


@pytest.fixture(scope="module")
def xml_run(hostile, tmp_path_factory):
    """One `monitor check` over billion laughs, the quadratic blow-up, six XXE feeds and one good feed."""
    folder = tmp_path_factory.mktemp("xml")
    secret = folder / "secret.txt"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    xxe = _xxe_feeds(str(secret))
    for name, body in xxe.items():
        hostile.routes[f"/xml/{name}"] = feed_route(body)
    hostile.routes["/xml/quadratic-terms"] = feed_route(_quadratic_with_terms())
    feeds = [{"name": "laughs", "url": hostile.url("/laughs")}, {"name": "quadratic", "url": hostile.url("/quadratic")},
             {"name": "quadratic-terms", "url": hostile.url("/xml/quadratic-terms")}]
    feeds += [{"name": name, "url": hostile.url(f"/xml/{name}")} for name in xxe]
    with Site() as site, Webhook() as hook:
        good = site.put("/good", rss("good", [item_for(CHIPS, site)]), "application/rss+xml")
        config = write_config(folder, feeds + [{"name": "good", "url": good}], channels={"hook": hook.url()})
        result = check(config)
        received = list(hook.received)
    return XmlRun(result, received, folder / "monitor.db", list(xxe))


def test_entity_expansion_is_defused_and_the_other_feeds_alert(xml_run):
    """Billion laughs and the quadratic blow-up (~120 KB) are read with their entities unexpanded."""
    assert_no_traceback(xml_run.result)
    assert [m["message"].splitlines()[0] for m in from_feed(xml_run.received, "good")] == [CHIPS.title]
    text = database_text(xml_run.db) + sent(xml_run.received) + xml_run.result.output
    assert "lollol" not in text                 # &lol1; alone is "lol" x 10
    assert "A" * 1000 not in text               # &a; alone is 100,000 "A"s
    assert "Entity List Entity List" not in text
    assert from_feed(xml_run.received, "quadratic-terms") == []       # its only text is the entity
    assert query(xml_run.db, "SELECT max(length(title)) FROM articles")[0][0] < 200
    for feed in ("laughs", "quadratic", "quadratic-terms"):      # each was read (or refused), and logged
        assert log_lines(xml_run.result.stderr, "feed_polled", feed=feed) or \
            log_lines(xml_run.result.stderr, "feed_failed", feed=feed), xml_run.result.stderr


def test_external_entities_never_bring_a_local_file_into_alerts_or_the_database(xml_run):
    # the XXE items do reach the alerts ("Entity List" matches a rule), only the file never does
    alerted = {feed for feed in xml_run.xxe_feeds if from_feed(xml_run.received, feed)}
    assert alerted == set(xml_run.xxe_feeds), xml_run.result.output
    assert SECRET not in sent(xml_run.received)
    assert SECRET not in database_text(xml_run.db)
    assert SECRET not in xml_run.result.output


def test_a_feed_with_entity_declarations_is_named_in_a_log_line(xml_run):
    for feed in ["laughs", "quadratic", "quadratic-terms", *xml_run.xxe_feeds]:
        lines = [line for line in xml_run.result.stderr.splitlines() if f"feed={feed} " in line + " "]
        assert any(re.search(r"doctype|dtd|entit", line, re.I) for line in lines), (feed, lines)


@pytest.mark.parametrize("encoding", ["cp037", "utf-16-le"])
def test_entity_declarations_are_stripped_whatever_the_encoding(encoding):
    text = quadratic_blowup(entity_size=10_000, uses=2_000).decode()    # 20 MB if expanded
    if encoding == "cp037":
        body = text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="cp037"?>').encode("cp037")
        content_type = "application/rss+xml"
    else:
        body = text.split("\n", 1)[1].encode("utf-16-le")               # no declaration, no BOM
        content_type = "application/rss+xml; charset=utf-16le"
    feed = parse_feed("quadratic", body, "https://news.example/feed", content_type)
    assert feed.declarations_removed
    # read, as a feed with its one item, whose text is the entity references left unexpanded
    (entry,) = feed.entries
    assert entry.title == "x"
    assert "A" not in entry.summary and len(entry.summary) < len(body), entry.summary[:200]


# HTTP ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/bomb/gzip", "/bomb/deflate", "/bomb/br", "/chunks"])
def test_a_body_past_the_cap_is_refused(hostile, path):
    """200 MB of compressed zeros, and 11 MB of chunks that never end, stop at the 10 MB cap."""
    with pytest.raises(ResponseTooLarge, match="over the 10485760-byte cap"):
        fetch(hostile.url(path), trusted=True)


def test_the_cap_counts_bytes_after_decompression(hostile):
    body = b"<rss>" + b"x" * (3 * MB) + b"</rss>"
    packed = gzip.compress(body)
    assert len(packed) < MB // 10
    hostile.routes["/packed"] = lambda conn: respond(conn, packed, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ResponseTooLarge):
        fetch(hostile.url("/packed"), trusted=True, limits=Limits(max_bytes=2 * MB))
    assert fetch(hostile.url("/packed"), trusted=True, limits=Limits(max_bytes=4 * MB)).body == body


def redirect_with_endless_body(location: str):
    """A 302 whose body goes on and on: whoever reads it waits forever."""
    def route(conn) -> None:
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 1000000000\r\n\r\n".encode())
        for _ in range(600):
            conn.sendall(b"x" * 1024)
            time.sleep(0.1)
    return route


@pytest.mark.parametrize("kind", ["bomb", "endless"])
def test_the_body_of_a_redirect_is_never_read(hostile, kind):
    """A 302 whose body is a 200 MB gzip bomb, or never ends: the redirect is followed, the body left unread."""
    hostile.routes["/landing"] = feed_route(rss("landing", []).encode())
    hostile.routes["/bomb-then-landing"] = hostile.redirect_with_bomb("/landing")
    hostile.routes["/endless-then-landing"] = redirect_with_endless_body("/landing")
    response = fetch(hostile.url(f"/{kind}-then-landing"), trusted=True, limits=Limits(max_bytes=MB, timeout=5))
    assert response.url == hostile.url("/landing") and response.body == rss("landing", []).encode()


def test_endless_redirects_stop_after_five(hostile):
    before = hostile.hits.count("/loop")
    with pytest.raises(TooManyRedirects, match="more than 5 redirects"):
        fetch(hostile.url("/loop"), trusted=True)
    assert hostile.hits.count("/loop") - before == 6      # the request and five redirects, then no more


@pytest.mark.parametrize("path", ["/drip", "/header-drip"])
def test_a_server_that_drips_is_cut_off_by_the_total_deadline(hostile, path):
    # the server never pauses long enough for a read timeout; only a total deadline ends it
    with pytest.raises(FetchTimeout, match="no complete response within 1s"):
        fetch(hostile.url(path), trusted=True, limits=Limits(timeout=1))


# charsets: one `monitor check` over feeds and pages that lie about (or omit) their charset

LATIN_TITLE = "Maßnahmen für Bürger: Exportkontrollen verschärft"
LATIN_SUMMARY = "Größere Ausfuhren nach Übersee brauchen künftig eine Genehmigung."
# the sentence around "H20" on the German page: only the page has it, not the feed's summary
PAGE_SNIPPET = "dürfen H20-Chips des Herstellers Nvidia künftig"


def _latin_feed(name: str, *, declaration: str | None, encoding: str) -> bytes:
    body = rss(name, [{"title": LATIN_TITLE, "guid": f"urn:{name}", "description": LATIN_SUMMARY,
                       "published": datetime.now(timezone.utc)}])
    if declaration is None:
        body = body.replace(' encoding="utf-8"', "")
    else:
        body = body.replace('encoding="utf-8"', f'encoding="{declaration}"')
    return body.encode(encoding)


# name -> (body, Content-Type)
READABLE_FEEDS = {
    "latin1-declared-utf8": (_latin_feed("a", declaration="utf-8", encoding="latin-1"),
                             "application/rss+xml; charset=utf-8"),
    "latin1-undeclared": (_latin_feed("b", declaration=None, encoding="latin-1"), "application/rss+xml"),
    "latin1-undeclared-text-xml": (_latin_feed("c", declaration=None, encoding="latin-1"), "text/xml"),
    "cp1252-undeclared": (_latin_feed("d", declaration=None, encoding="cp1252"), "application/xml"),
    "utf8-labelled-latin1": (_latin_feed("e", declaration="utf-8", encoding="utf-8"),
                             "application/rss+xml; charset=iso-8859-1"),
    "utf8-labelled-utf7": (_latin_feed("f", declaration="utf-8", encoding="utf-8"),
                           "application/rss+xml; charset=utf-7"),
}
GARBLED_FEEDS = {   # UTF-8 feeds (their own declaration says so) whose Content-Type names another charset
    "utf8-labelled-cp1252": (_latin_feed("g", declaration="utf-8", encoding="utf-8"),
                             "application/rss+xml; charset=windows-1252"),
    "utf8-labelled-latin9": (_latin_feed("h", declaration="utf-8", encoding="utf-8"),
                             "application/rss+xml; charset=iso-8859-15"),
}


def _german_page(encoding: str, meta: str | None) -> bytes:
    text = page(GERMAN).replace('<meta charset="utf-8">', f'<meta charset="{meta}">' if meta else "")
    return text.encode(encoding)


# name -> (page body, Content-Type)
READABLE_PAGES = {
    "nonsense-label": (_german_page("utf-8", "utf-8"), "text/html; charset=nonsense"),
    "utf7-label": (_german_page("utf-8", "utf-8"), "text/html; charset=utf-7"),
    "latin1-label-on-utf8": (_german_page("utf-8", "utf-8"), "text/html; charset=iso-8859-1"),
    "utf8-label-on-latin1": (_german_page("latin-1", "iso-8859-1"), "text/html; charset=utf-8"),
    "no-label-latin1": (_german_page("latin-1", "iso-8859-1"), "text/html"),
    "no-label-no-meta-utf8": (_german_page("utf-8", None), "text/html"),
}
GARBLED_PAGES = {   # UTF-8 pages (their own <meta> says so) whose Content-Type names another web charset
    "latin9-label-on-utf8": (_german_page("utf-8", "utf-8"), "text/html; charset=iso-8859-15"),
    "cp1250-label-on-utf8": (_german_page("utf-8", "utf-8"), "text/html; charset=windows-1250"),
}


@dataclass
class CharsetRun:
    result: Result
    received: list[dict]


@pytest.fixture(scope="module")
def charset_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charsets")
    with Site() as site, Webhook() as hook:
        feeds = []
        for name, (body, content_type) in {**READABLE_FEEDS, **GARBLED_FEEDS}.items():
            feeds.append({"name": name, "url": site.put(f"/feeds/{name}", body, content_type)})
        items = []
        for name, (body, content_type) in {**READABLE_PAGES, **GARBLED_PAGES}.items():
            site.put(f"/pages/{name}", body, content_type)
            items.append(item_for(GERMAN, site, title=f"Seite {name}", guid=f"urn:page:{name}",
                                  link=site.url(f"/pages/{name}")))
        feeds.append({"name": "pages", "url": site.put("/feeds/pages", rss("pages", items), "application/rss+xml")})
        config = write_config(folder, feeds, channels={"hook": hook.url()})
        result = check(config)
        received = list(hook.received)
    return CharsetRun(result, received)


def _feed_alert(run: CharsetRun, feed: str) -> dict:
    (message,) = from_feed(run.received, feed)
    return message


def _page_alert(run: CharsetRun, name: str) -> dict:
    (message,) = [m for m in run.received if m["message"].startswith(f"Seite {name}\n")]
    return message


@pytest.mark.parametrize("feed", list(READABLE_FEEDS))
def test_a_feed_with_a_wrong_or_missing_charset_reads_cleanly(charset_run, feed):
    assert_no_traceback(charset_run.result)
    message = _feed_alert(charset_run, feed)
    assert message["title"] == f"export-controls: {LATIN_TITLE}"
    assert not any(mark in sent([message]) for mark in MOJIBAKE), message


@pytest.mark.parametrize("name", list(READABLE_PAGES))
def test_a_page_with_a_bogus_or_missing_charset_reads_cleanly(charset_run, name):
    message = _page_alert(charset_run, name)
    assert PAGE_SNIPPET in message["message"], message["message"]     # the page's own text, readable
    assert not any(mark in sent([message]) for mark in MOJIBAKE), message


@pytest.mark.parametrize("feed", list(GARBLED_FEEDS))
def test_a_utf8_feed_labelled_with_a_legacy_charset_reads_cleanly(charset_run, feed):
    message = _feed_alert(charset_run, feed)
    assert message["title"] == f"export-controls: {LATIN_TITLE}", message["title"]


@pytest.mark.parametrize("name", list(GARBLED_PAGES))
def test_a_utf8_page_labelled_with_another_legacy_charset_reads_cleanly(charset_run, name):
    message = _page_alert(charset_run, name)
    assert PAGE_SNIPPET in message["message"], message["message"]


# SSRF ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["[::ffff:127.0.0.1]", "[0:0:0:0:0:ffff:7f00:1]", "0x7f000001", "LOCALHOST"])
def test_other_spellings_of_loopback_are_refused(site, host):
    url = f"http://{host}:{site.port}/page"
    site.put("/page", "<p>internal</p>")
    assert fetch(url, private_networks=True).body == b"<p>internal</p>"   # this spelling does reach the server
    with pytest.raises(BlockedAddress):
        fetch(url)
    assert site.statuses("/page") == [200]                                 # only the allowed request arrived


@pytest.mark.parametrize("host", [
    "10.0.0.1", "172.16.0.1", "192.168.1.1",                 # private
    "169.254.169.254",                                       # link-local: cloud metadata
    "100.64.0.1", "100.127.255.254",                         # CGNAT
    "[fd00::1]", "[fc00::1]", "[fe80::1]",                   # unique-local and link-local IPv6
    "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:100.64.0.1]",   # IPv4-mapped
    "0", "[::]",                                             # "this host"
    "127.1", "017700000001", "0177.0.0.1", "0x7f.0.0.1",     # legacy numeric forms of loopback
])
def test_non_public_addresses_are_refused_before_any_connection(host):
    # refused as a policy, not by a failed or timed-out connection
    with pytest.raises(BlockedAddress, match="non-public address"):
        fetch(f"http://{host}/latest/meta-data/", limits=Limits(timeout=5, connect_timeout=2))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/pub", "gopher://127.0.0.1:70/_stats",
                                 "dict://127.0.0.1:11211/stat", "data:text/html,<p>x</p>", "javascript:alert(1)"])
def test_article_links_in_other_schemes_are_refused_even_with_private_networks(url):
    with pytest.raises(BlockedAddress, match="is not fetched"):
        fetch(url, private_networks=True)


@pytest.mark.parametrize("trusted", [True, False], ids=["feed", "article"])
@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/pub", "gopher://127.0.0.1:70/_x"])
def test_a_redirect_to_another_scheme_is_refused(site, location, trusted):
    site.put("/hop", "", status=302, headers={"Location": location})
    with pytest.raises(BlockedAddress, match="is not fetched"):
        fetch(site.url("/hop"), trusted=trusted, private_networks=True)
    assert site.statuses("/hop") == [302]


def test_links_into_the_private_network_are_not_fetched_and_alerts_use_the_summary(site, webhook, tmp_path):
    """private_networks = false: no page is fetched, every alert still goes out on the feed's own text,
    and a log line says why for each link. The same feed with private_networks = true fetches every page:
    the links do lead somewhere, so the refusal is the policy at work."""
    secret = tmp_path / "passwd"
    secret.write_text(SECRET + "\n")
    site.put("/hop", "", status=302, headers={"Location": site.url("/news/behind-redirect")})
    site.put("/news/behind-redirect", "<html><body><article><p>" + "Huawei ban. " * 50 + "</p></article></body></html>")
    links = {   # the link, and the page on the site it would reach
        "loopback": (site.url("/news/loopback"), "/news/loopback"),
        "localhost": (f"http://localhost:{site.port}/news/localhost", "/news/localhost"),
        "mapped": (f"http://[::ffff:127.0.0.1]:{site.port}/news/mapped", "/news/mapped"),
        "hex": (f"http://0x7f.1:{site.port}/news/hex", "/news/hex"),
        "any": (f"http://0.0.0.0:{site.port}/news/any", "/news/any"),
        "redirect": (site.url("/hop"), "/hop"),
    }
    unreachable = {"decimal": f"http://2130706433:{site.port}/news/decimal"}   # aiohttp cannot connect to it anyway
    schemes = {"file": f"file://{secret}", "ftp": f"ftp://127.0.0.1:{site.port}/news/ftp",
               "gopher": f"gopher://127.0.0.1:{site.port}/_news"}
    now = datetime.now(timezone.utc)
    items = []
    for name, link in [*((n, link) for n, (link, _) in links.items()), *unreachable.items(), *schemes.items()]:
        items.append({"title": f"Link {name}", "link": link, "guid": f"urn:{name}", "published": now,
                      "description": f"Officials widened the export controls ({name})."})
        site.put(f"/news/{name}", "<html><body><article><p>" + "Huawei ban. " * 50 + "</p></article></body></html>")
    feed = site.put("/f", rss("f", items), "application/rss+xml")

    config = write_config(tmp_path, [{"name": "f", "url": feed}], channels={"hook": webhook.url()}, monitor="")
    result = check(config)

    assert result.code == 0, result.output
    assert_no_traceback(result)
    assert [r.path for r in site.requests] == ["/f"]                       # the feed, and nothing else
    titles = sorted(m["message"].splitlines()[0] for m in webhook.received)
    assert titles == sorted(item["title"] for item in items)              # every alert went out ...
    for message in webhook.received:                                      # ... on the feed's own text
        assert "Rules: export-controls\n" in message["message"] and "Huawei" not in message["message"]
    assert SECRET not in sent(webhook.received)
    for _, link in [*((n, link) for n, (link, _) in links.items()), *unreachable.items()]:
        (line,) = log_lines(result.stderr, "page_not_fetched", feed="f", url=link)
        assert "non-public address" in line, line
    assert query(tmp_path / "monitor.db", "SELECT DISTINCT text_source FROM articles") == [("feed",)]

    # the control: the same links, allowed
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    config = write_config(allowed, [{"name": "f", "url": feed}])
    check(config)
    for name, (_, path) in links.items():
        assert site.statuses(path) == ([302] if name == "redirect" else [200]), name
    assert site.statuses("/news/behind-redirect") == [200]


# pages -----------------------------------------------------------------------------------------

def test_huge_and_deeply_nested_pages_fall_back_to_the_summary(site, webhook, tmp_path):
    """Pages over the extraction cap (4 MB) or the fetch cap (10 MB), and a page nested 100,000
    levels deep: the alert still goes out, on the feed's summary."""
    trap = "<p>Huawei ban announced.</p>"          # would add the huawei-ban rule if the page were read
    pages = {
        "over-extraction-cap": "<html><body><article>" + trap * 200_000 + "</article></body></html>",  # 5.6 MB
        "over-fetch-cap": "<html><body><article>" + trap * 420_000 + "</article></body></html>",       # 11.8 MB
        "nested": "<html><body>" + "<div>" * 100_000 + trap + "</div>" * 100_000 + "</body></html>",
    }
    now = datetime.now(timezone.utc)
    items = []
    for name, body in pages.items():
        site.put(f"/news/{name}", body)
        items.append({"title": f"Page {name}", "link": site.url(f"/news/{name}"), "guid": f"urn:{name}",
                      "published": now, "description": f"Washington widened its export controls ({name})."})
    config = write_config(tmp_path, [{"name": "f", "url": site.put("/f", rss("f", items), "application/rss+xml")}],
                          channels={"hook": webhook.url()},
                          monitor='private_networks = true\nextract_timeout = "5s"\n')
    result = check(config)

    assert result.code == 0, result.output
    assert_no_traceback(result)
    assert sorted(m["title"] for m in webhook.received) == sorted(f"export-controls: Page {n}" for n in pages)
    for message in webhook.received:
        assert "Washington widened its export controls" in message["message"]
    assert query(tmp_path / "monitor.db", "SELECT DISTINCT text_source FROM articles") == [("feed",)]
    assert len(log_lines(result.stderr, "page_too_large", url=site.url("/news/over-extraction-cap"))) == 1
    (line,) = log_lines(result.stderr, "page_not_fetched", url=site.url("/news/over-fetch-cap"))
    assert "over the 10485760-byte cap" in line
    assert all(status == 200 for name in pages for status in site.statuses(f"/news/{name}"))


def test_a_page_that_takes_too_long_to_extract_is_abandoned_and_its_worker_replaced(
        site, webhook, tmp_path, spawn):
    """100,000 paragraphs take ~6 s to extract; extract_timeout = 1s stops the worker. With one CPU
    monitor has one worker, so the next article's page being extracted proves it was replaced."""
    slow_page = "<html><body>" + "<p>x</p>" * 100_000 + "</body></html>"
    slow = {"title": "Slow page", "link": site.put("/news/slow", slow_page), "guid": "urn:slow",
            "published": datetime.now(timezone.utc), "description": "Officials widened the export controls on Tuesday."}
    site.put("/f", rss("f", [slow]), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "f", "url": site.url("/f"), "interval": "1s"}],
                          channels={"hook": webhook.url()},
                          monitor='private_networks = true\nextract_timeout = "1s"\n')
    daemon = spawn("run", "--config", config, one_cpu=True)
    wait_for(lambda: webhook.received, what="the slow page's alert", alive=daemon)
    assert webhook.received[0]["title"] == "export-controls: Slow page"
    assert "Officials widened the export controls" in webhook.received[0]["message"]    # the summary

    site.put("/f", rss("f", [slow, item_for(CHIPS, site)]), "application/rss+xml")       # the next article
    wait_for(lambda: len(webhook.received) == 2, what="the next article's alert", alive=daemon)
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0
    stderr = daemon.stderr
    assert "Traceback" not in stderr
    (line,) = log_lines(stderr, "page_not_extracted", feed="f", url=site.url("/news/slow"))
    assert "longer than 1s" in line
    assert log_lines(stderr, "worker_replaced")
    sources = dict(query(tmp_path / "monitor.db", "SELECT title, text_source FROM articles"))
    assert sources == {"Slow page": "feed", CHIPS.title: "page"}
    assert "ship its H20 processors" in webhook.received[1]["message"]                    # from the page


# text ------------------------------------------------------------------------------------------

def test_empty_or_numeric_text_has_an_unknown_language(site, webhook, tmp_path):
    now = datetime.now(timezone.utc)
    site.put("/news/numbers", "<html><body><article><p>2026</p><p>12 345 678</p></article></body></html>")
    items = [
        {"title": "", "guid": "urn:empty", "description": "", "published": now},
        {"title": "   ", "guid": "urn:blank", "description": "\u200b \u00a0", "published": now},
        {"title": "2026", "guid": "urn:year", "description": "12 345 678 910 1112 1314 1516 1718 1920",
         "published": now},
        {"title": "2026 ۱۲۳ 𝟏𝟐𝟑", "guid": "urn:digits", "description": "٣٤٥٦ 2026", "published": now},
        {"title": "2026: 10.5 %", "link": site.url("/news/numbers"), "guid": "urn:page", "description": "2026",
         "published": now},
    ]
    rules = ('[[rules]]\nname = "year"\nany = ["2026"]\n\n'
             '[[rules]]\nname = "english"\nany = ["2026"]\nlanguages = ["en"]\n')
    config = write_config(tmp_path, [{"name": "f", "url": site.put("/f", rss("f", items), "application/rss+xml")}],
                          channels={"hook": webhook.url()}, rules=rules)
    result = check(config)

    assert result.code == 0, result.output
    assert_no_traceback(result)
    rows = query(tmp_path / "monitor.db", "SELECT language, language_confidence FROM articles")
    assert len(rows) == len(items) and {language for language, _ in rows} == {None}
    assert len(webhook.received) == 3                                   # the three that say 2026 ...
    for message in webhook.received:
        assert message["title"].startswith("year: ")                  # ... never the rule that needs English
        assert "Language: unknown" in message["message"]


# alerts that carry feed text into chat and mail -----------------------------------------------

MENTIONS = ["<!channel>", "<!here>", "<!everyone>", "@everyone", "@here", "@channel"]
MARKUP = ["**bold**", "<b>bold</b>", "[click here](http://evil.example/login)", "<script>alert(1)</script>"]
TEMPLATES = ["{title}", "{{body}}", "{feed}", "%s", "%(title)s", "$(whoami)", "${HOME}", "`id`", "{0}"]


# mail costs ~5 s a message here (apprise's SMTP greeting), so only the header-injection item is mailed
CHAT_RULES = """
[[rules]]
name = "export-controls"
any = ["export controls"]
channels = ["plain", "markdown", "html"]

[[rules]]
name = "mail"
any = ["Bcc"]
channels = ["mail"]
"""


@dataclass
class ChatRun:
    result: Result
    received: list[dict]
    mail: list[tuple[Message, list[str]]]


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory):
    """One `monitor check` whose feed tries mass mentions, markup, mail header injection and templates,
    sent to a plain JSON webhook, the same webhook as Markdown and as HTML, and an SMTP server."""
    folder = tmp_path_factory.mktemp("chat")
    now = datetime.now(timezone.utc)
    mention_text = " ".join(MENTIONS)
    markup_text = " ".join(MARKUP)
    template_text = " ".join(TEMPLATES)
    items = [   # the titles avoid the rule's term, so that each summary shows in the alert's snippet too
        {"title": literal(f"Mentions {mention_text}"), "guid": "urn:mentions", "published": now,
         "description": literal(f"Alert {mention_text}: new export controls {mention_text} today.")},
        {"title": literal(f"Markup {markup_text}"), "guid": "urn:markup", "published": now,
         "description": literal(f"The export controls {markup_text} widen.")},
        {"title": "Header tightenedCRLFBcc: victim@example.org", "guid": "urn:crlf", "published": now,
         "description": "New export controls.CRLFBcc: victim@example.org"},
        {"title": f"Templates {template_text}", "guid": "urn:templates", "published": now,
         "description": f"The export controls {template_text} widen."},
    ]
    body = rss("wire", items).replace("CRLF", "&#13;&#10;")   # a CR LF the XML parser keeps
    with Site() as site, Webhook() as hook, Mailbox() as mailbox:
        channels = {"plain": hook.url("/plain"), "markdown": hook.url("/markdown") + "?format=markdown",
                    "html": hook.url("/html") + "?format=html", "mail": mailbox.url()}
        config = write_config(folder, [{"name": "wire", "url": site.put("/wire", body, "application/rss+xml")}],
                              channels=channels, rules=CHAT_RULES)
        result = check(config)
        received = list(hook.received)
        mail = list(zip(mailbox.messages, mailbox.recipients))
    return ChatRun(result, received, mail)


def _delivered(run: ChatRun, path: str, first_word: str) -> dict:
    """The alert whose headline (the body's first line) starts with ``first_word``, as ``path`` got it."""
    (message,) = [m for m in run.received if m["path"] == path and m["message"].startswith(first_word)]
    return message


def test_every_injection_alert_is_delivered_everywhere(chat_run):
    assert chat_run.result.code == 0, chat_run.result.output
    assert_no_traceback(chat_run.result)
    assert sorted(m["path"] for m in chat_run.received) == sorted(["/plain", "/markdown", "/html"] * 4)
    assert len(chat_run.mail) == 1


def test_mass_mentions_never_arrive_verbatim(chat_run):
    message = _delivered(chat_run, "/plain", "Mentions")
    text = sent([message])
    for mention in MENTIONS:
        assert mention not in text, mention
    assert "@\u200beveryone" in text and "<\u200b!channel>" in text     # the text arrived, defused


@pytest.mark.parametrize("path,escaped,live", [
    ("/markdown", r"\*\*bold\*\*", "**bold**"),
    ("/markdown", r"\[click here\]\(http://evil\.example/login\)", "[click here](http://evil.example/login)"),
    ("/html", "&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
    ("/html", "&lt;script&gt;", "<script>"),
])
def test_markup_in_feed_text_arrives_escaped_in_the_message(chat_run, path, escaped, live):
    message = _delivered(chat_run, path, "Markup")["message"]
    assert escaped in message and live not in message, message


@pytest.mark.parametrize("path,live", [
    ("/markdown", "**bold**"),
    ("/markdown", "[click here](http://evil.example/login)"),
    ("/html", "<b>bold</b>"),
    ("/html", "<script>"),
])
def test_markup_in_a_feed_title_arrives_escaped_in_the_alert_title(chat_run, path, live):
    title = _delivered(chat_run, path, "Markup")["title"]
    assert live not in title, title


def test_a_title_with_cr_lf_gives_a_one_line_subject_and_no_extra_recipient(chat_run):
    (message, recipients), = chat_run.mail
    subject = message["Subject"]
    assert "\r" not in subject and "\n" not in subject, repr(subject)
    assert subject == "export-controls, mail: Header tightened Bcc: victim@example.org"
    assert message["Bcc"] is None and message["Cc"] is None
    assert recipients == ["analyst@example.org"]
    assert all("victim" not in (message[h] or "") for h in ("To", "Cc", "Bcc", "From", "Reply-To"))
    # the same title in chat: one line too (no mail library in between to clean it up)
    for path in ("/plain", "/markdown", "/html"):
        assert _delivered(chat_run, path, "Header")["title"] == subject


def test_feed_text_is_never_rendered_as_a_template(chat_run):
    headline = f"Templates {' '.join(TEMPLATES)}"
    # titles are made inert as markup (backticks become look-alikes), never filled in as templates
    inert = headline.replace("`", "ˋ")
    for path in ("/plain", "/markdown", "/html"):
        assert _delivered(chat_run, path, "Templates")["title"] == f"export-controls: {inert}"
    message = _delivered(chat_run, "/plain", "Templates")["message"]
    assert message.startswith(headline + "\n")
    assert "The export controls {title} {{body}} {feed} %s %(title)s $(whoami)" in message    # the summary


# the daemon and memory -------------------------------------------------------------------------

def test_the_daemon_survives_hostile_feeds_and_still_alerts(hostile, site, webhook, tmp_path, spawn):
    good = site.put("/good", rss("good", [item_for(CHIPS, site)]), "application/rss+xml")
    feeds = [{"name": name, "url": hostile.url(path), "interval": "1s"} for name, path in HOSTILE_FEEDS.items()]
    # the quadratic blow-up is no failure: its DTD stripped, it is a feed with one harmless item
    feeds.append({"name": "quadratic", "url": hostile.url("/quadratic"), "interval": "1s"})
    feeds.append({"name": "good", "url": good, "interval": "1s"})
    # backoff_max = 2s: a failing feed is retried every 2 s instead of 1, 2, 4, 8 s ...
    config = write_config(tmp_path, feeds, channels={"hook": webhook.url()},
                          monitor='private_networks = true\ntimeout = "2s"\nbackoff_max = "2s"\n')
    daemon = spawn("run", "--config", config)

    wait_for(lambda: webhook.received, what="the good feed's alert", alive=daemon)
    wait_for(lambda: all(len(log_lines(daemon.stderr, "feed_failed", feed=name)) >= 3 for name in HOSTILE_FEEDS)
             and len(log_lines(daemon.stderr, "feed_polled", feed="quadratic")) >= 3,
             timeout=90, what="three polls of every hostile feed")
    assert daemon.proc.poll() is None                      # still running
    assert daemon.stop() == 0, daemon.stderr[-3000:]
    stderr = daemon.stderr
    assert "Traceback" not in stderr
    reasons = {
        "gzip-bomb": "over the 10485760-byte cap", "deflate-bomb": "over the 10485760-byte cap",
        "brotli-bomb": "over the 10485760-byte cap", "redirect-bomb": "HTTP 404",
        "endless-redirect": "more than 5 redirects", "drip": "no complete response within 2s",
        "html-not-feed": "got an HTML page, not a feed",
    }
    for name, reason in reasons.items():
        assert all(reason in line for line in log_lines(stderr, "feed_failed", feed=name)), name
    assert log_lines(stderr, "feed_failed", feed="good") == []
    titles = [m["title"] for m in webhook.received]
    assert [t for t in titles if not t.startswith("monitor: ")] == [f"export-controls, nvidia-h20: {CHIPS.title}"]
    notices = [t for t in titles if t.startswith("monitor: ")]           # after notice_after (5) failures
    assert {t.split()[2] for t in notices} <= set(HOSTILE_FEEDS)
    assert len(notices) == len({t.split()[2] for t in notices})          # one per feed, never one per failure
    assert "event=daemon_stopped" in stderr


# Peak RSS (largest process: monitor itself) of one `monitor check` over every hostile feed at once.
# Measured: ~100 MB, what monitor needs anyway (Python, aiohttp, feedparser, apprise, trafilatura).
# The 10 MB cap still lets each of the four feeds here that reach it (three bombs, the endless chunks)
# hold up to 10 MB plus the joined copy at the same moment: ~80 MB more, ~180 MB at worst. Without the
# protections a single input goes far past 300 MB: one 200 MB bomb read uncapped peaks at ~1 GB (aiohttp
# alone), reading the bomb in the redirect's body gave 493 MB, the quadratic blow-up parsed with its DTD
# 1.47 GB.
MEMORY_BOUND_MB = 300


def test_memory_stays_bounded_under_every_hostile_feed_at_once(hostile, site, webhook, tmp_path):
    good = site.put("/good", rss("good", [item_for(CHIPS, site)]), "application/rss+xml")
    paths = {**HOSTILE_FEEDS, "quadratic": "/quadratic", "laughs": "/laughs", "chunks": "/chunks"}
    feeds = [{"name": name, "url": hostile.url(path)} for name, path in paths.items()]
    config = write_config(tmp_path, feeds + [{"name": "good", "url": good}], channels={"hook": webhook.url()},
                          monitor='private_networks = true\ntimeout = "2s"\n')
    wrapper = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
               "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "monitor", "check", "--config",
                           str(config)], capture_output=True, text=True, env=monitor_env(), timeout=120)
    code, peak_kb = map(int, proc.stdout.split()[-2:])
    print(f"peak RSS of monitor check over {len(paths)} hostile feeds: {peak_kb / 1024:.0f} MB")
    assert "Traceback" not in proc.stderr
    assert code == 1                                          # the hostile feeds failed ...
    assert len(webhook.received) == 1                         # ... the good one alerted
    for name in HOSTILE_FEEDS:
        assert f'feed "{name}" failed: ' in proc.stderr, name
    assert peak_kb < MEMORY_BOUND_MB * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
