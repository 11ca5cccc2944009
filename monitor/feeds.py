"""Feed bytes -> entries with stable identities.

feedparser is always handed a byte stream: given a str it may fetch a URL, and
given bytes that happen to name a file it opens that file.
Its HTML sanitising and relative-URI rewriting are turned off: we never
render feed HTML, we only take its text.
"""

from __future__ import annotations

import calendar
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from monitor.errors import FeedError
from monitor.models import Entry
from monitor.text import html_to_text

_TRACKING = ("utm_", "mc_", "fbclid", "gclid", "dclid", "msclkid", "igshid", "at_medium", "at_campaign", "xtor")


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    language: str | None
    entries: tuple[Entry, ...]


def parse_feed(feed: str, body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched feed body; raise FeedError when it is not a feed."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(_why_not_a_feed(body, parsed))
    entries = tuple(_entry(feed, url, item) for item in parsed.entries)
    language = (parsed.feed.get("language") or "").split("-")[0].split("_")[0].lower() or None
    return ParsedFeed(title=html_to_text(parsed.feed.get("title", "")), language=language, entries=entries)


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


def _entry(feed: str, base: str, item) -> Entry:
    title = html_to_text(item.get("title", ""))
    content = item.get("content") or []
    body = content[0].get("value", "") if content else ""
    summary = html_to_text(body or item.get("summary", ""))
    link = normalize_url(item["link"], base) if item.get("link") else None
    guid = (item.get("id") or "").strip()
    if guid:
        identity = "guid:" + guid
    elif link:
        identity = "link:" + link
    else:
        identity = "hash:" + title + "\n" + summary
    key = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    stamp = item.get("published_parsed") or item.get("updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(stamp), timezone.utc) if stamp else None
    return Entry(feed=feed, key=key, url=link, title=title, summary=summary, published=published)


def _why_not_a_feed(body: bytes, parsed) -> str:
    head = body[:2048].lstrip().lower()
    if not head:
        return "empty response, not a feed"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "got an HTML page, not a feed"
    problem = parsed.get("bozo_exception")
    return f"not a feed: {problem}" if problem else "not an RSS, Atom or RDF feed"
