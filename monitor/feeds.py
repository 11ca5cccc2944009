"""Feed bytes -> entries with stable identities.

JSON Feed is read here directly. feedparser is always handed a byte stream: given a str it may fetch a URL, and
given bytes that happen to name a file it opens that file.
Its HTML sanitising and relative-URI rewriting are turned off: we never
render feed HTML, we only take its text.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from monitor import encodings
from monitor.dates import parse_localized
from monitor.errors import FeedError
from monitor.models import Entry
from monitor.text import html_to_text

# query parameters that only tell the publisher where a click came from
_TRACKING = (
    "utm_", "mc_cid", "mc_eid", "fbclid", "gclid", "dclid", "msclkid", "igshid", "at_medium", "at_campaign",
    "at_link", "xtor", "wt_mc", "wt_zmc", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee",
    "cmpid",
)


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    language: str | None
    entries: tuple[Entry, ...]
    ttl: timedelta | None = None      # RSS <ttl>: poll no more often than this
    declarations_removed: bool = False  # the feed had DOCTYPE or ENTITY declarations (taken out)


def parse_feed(feed: str, body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched feed body (RSS, Atom, RDF or JSON Feed); raise FeedError when it is not a feed."""
    if body.lstrip()[:1] == b"{":
        return _json_feed(feed, body, url)
    body, content_type = as_utf8(body, content_type)
    stripped = strip_dtd(body)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        io.BytesIO(stripped), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(_why_not_a_feed(stripped, parsed))
    entries = tuple(_entry(feed, url, item) for item in parsed.entries)
    ttl = str(parsed.feed.get("ttl", "")).strip()
    return ParsedFeed(
        title=html_to_text(parsed.feed.get("title", "")),
        language=_bare_language(parsed.feed.get("language")),
        entries=entries,
        ttl=timedelta(minutes=int(ttl)) if ttl.isdigit() and 0 < int(ttl) < 100000 else None,
        declarations_removed=len(stripped) != len(body),
    )


_DOCTYPE = re.compile(rb"<!DOCTYPE\b", re.I)
_HEAD_TOKEN = re.compile(rb"""[^\[>"']+|"[^"]*"|'[^']*'|.""", re.S)
_SUBSET_TOKEN = re.compile(rb"""\]\s*>|"[^"]*"|'[^']*'|<!--.*?-->|[^"'\]<]+|.""", re.S)
_ENTITY = re.compile(rb"""<!ENTITY(?:"[^"]*"|'[^']*'|[^>"'])*>""", re.I)
_ENCODING_DECL = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


def as_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """The feed in UTF-8, its declaration saying so, whatever it came in (see monitor.encodings):
    then DOCTYPEs can be found in any encoding, and a wrong HTTP charset does no harm."""
    header = None
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset":
            header = value
    declared = encodings.xml_declared(body)
    decoded = encodings.decode(body, [encodings.bom(body), declared, header, "utf-8"], encodings.XML_CODECS)
    if decoded is None:
        return body, content_type   # feedparser gets the bytes and its own guess (chardet)
    text = decoded[0].lstrip("\ufeff")
    utf8 = _ENCODING_DECL.sub(rb"\1\2utf-8\2", text.encode("utf-8"), count=1)
    media = (content_type or "application/xml").split(";")[0].strip() or "application/xml"
    return utf8, f"{media}; charset=utf-8"


def strip_dtd(body: bytes) -> bytes:
    """Remove DOCTYPE and ENTITY declarations from an ASCII-compatible body: entity expansion
    (billion laughs, one big entity used thousands of times, external entities) then has
    nothing to expand."""
    found = _DOCTYPE.search(body)
    while found:
        end = _doctype_end(body, found.end())
        body = body[: found.start()] + body[end:]
        found = _DOCTYPE.search(body, found.start())
    return _ENTITY.sub(b"", body)


def _doctype_end(body: bytes, position: int) -> int:
    """Where the DOCTYPE that starts before ``position`` ends, internal subset included."""
    for token in _HEAD_TOKEN.finditer(body, position):
        piece = token.group()
        if piece == b">":
            return token.end()            # no internal subset
        if piece == b"[":
            break
    else:
        return len(body)
    for closing in _SUBSET_TOKEN.finditer(body, token.end()):
        if closing.group()[:1] == b"]" and closing.group().endswith(b">"):
            return closing.end()
    return len(body)                      # unterminated: everything after it was declarations


def normalize_url(link: str, base: str) -> str | None:
    """Absolute http(s) URL without fragment or tracking parameters; None if not a web link."""
    try:
        parts = urlsplit(urljoin(base, link.strip()))
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith(_TRACKING)]
    netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.netloc
    for default in (":80", ":443"):
        if netloc.endswith(default) and parts.scheme.lower() == ("http" if default == ":80" else "https"):
            netloc = netloc[: -len(default)]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def _entry(feed: str, base: str, item: Any) -> Entry:   # item: a FeedParserDict
    content = item.get("content") or []
    body = content[0].get("value", "") if content else ""
    # dict.get: FeedParserDict.get("published_parsed") falls back to the updated date with a warning
    stamp = dict.get(item, "published_parsed") or dict.get(item, "updated_parsed")
    published: datetime | None
    if stamp:
        published = datetime.fromtimestamp(calendar.timegm(stamp), timezone.utc)
    else:
        published = parse_localized(dict.get(item, "published") or dict.get(item, "updated") or "")
    return _make_entry(
        feed, base,
        guid=item.get("id") or "",
        link=item.get("link") or "",
        title=html_to_text(item.get("title", "")),
        summary=html_to_text(body or item.get("summary", "")),
        published=published,
    )


def _make_entry(feed: str, base: str, *, guid: str, link: str, title: str, summary: str,
                published: datetime | None) -> Entry:
    """Identity: the GUID, else the link, else a hash of title and content."""
    url = normalize_url(link, base) if link else None
    guid = guid.strip()
    if guid:
        identity = "guid:" + guid
    elif url:
        identity = "link:" + url
    else:
        identity = "hash:" + title + "\n" + summary
    key = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return Entry(feed=feed, key=key, url=url, title=title, summary=summary, published=published)


def _json_feed(feed: str, body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.x (https://jsonfeed.org), which feedparser does not read."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"got JSON that does not parse: {exc}") from None
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list) or not str(document.get("version", "")).startswith("https://jsonfeed.org/"):
        raise FeedError("got JSON that is not a JSON Feed")
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        text = _string(item.get("content_html")) or _string(item.get("content_text")) or _string(item.get("summary"))
        entries.append(_make_entry(
            feed, url,
            guid=_string(item.get("id")),
            link=_string(item.get("url")),
            title=html_to_text(_string(item.get("title"))),
            summary=html_to_text(text),
            published=_iso_date(_string(item.get("date_published")) or _string(item.get("date_modified"))),
        ))
    return ParsedFeed(_string(document.get("title")), _bare_language(_string(document.get("language"))),
                      tuple(entries))


def _string(value: object) -> str:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


def _iso_date(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _bare_language(code: str | None) -> str | None:
    return (code or "").split("-")[0].split("_")[0].strip().lower() or None


def _why_not_a_feed(body: bytes, parsed: Any) -> str:   # parsed: feedparser's result
    head = body[:2048].lstrip().lower()
    if not head:
        return "empty response, not a feed"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "got an HTML page, not a feed"
    problem = parsed.get("bozo_exception")
    return f"not a feed: {problem}" if problem else "not an RSS, Atom or RDF feed"
