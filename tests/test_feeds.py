"""Feed parsing: entries, identities, links and dates."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from content import atom, rss
from monitor.errors import FeedError
from monitor.feeds import normalize_url, parse_feed

WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


def test_rss_entries():
    body = rss("Krant", [
        {"title": "Kabinet &amp; chips", "link": "https://krant.example/a?utm_source=rss", "guid": "a-1",
         "description": "<p>Eerste <b>alinea</b>.</p><p>Tweede.</p>", "published": WHEN},
    ], language="nl-NL").encode()
    feed = parse_feed("krant", body, "https://krant.example/rss")
    assert feed.language == "nl"
    (entry,) = feed.entries
    assert entry.feed == "krant"
    assert entry.title == "Kabinet & chips"
    assert entry.url == "https://krant.example/a"
    assert entry.summary == "Eerste alinea.\nTweede."
    assert entry.published == WHEN


def test_atom_entries():
    body = atom("Zeitung", [{"title": "Exportkontrollen", "link": "/artikel/1", "guid": "tag:z,2026:1",
                             "description": "Text", "published": WHEN}]).encode()
    (entry,) = parse_feed("z", body, "https://zeitung.example/feed.atom").entries
    assert entry.url == "https://zeitung.example/artikel/1"     # relative links resolved against the feed
    assert entry.published == WHEN


def test_identity_prefers_guid_then_link_then_content():
    items = [
        {"title": "A", "link": "https://x.example/a", "guid": "g", "description": "d"},
        {"title": "A", "link": "https://x.example/a", "description": "d"},
        {"title": "A", "description": "d"},
    ]
    by_guid, by_link, by_hash = parse_feed("f", rss("f", items).encode(), "https://x.example/").entries
    assert len({by_guid.key, by_link.key, by_hash.key}) == 3
    # the same item seen again gives the same key, whatever else changed
    again = parse_feed("f", rss("f", [dict(items[0], title="A (updated)", description="new text")]).encode(),
                       "https://x.example/").entries[0]
    assert again.key == by_guid.key
    moved = parse_feed("f", rss("f", [dict(items[1], description="new text")]).encode(), "https://x.example/").entries[0]
    assert moved.key == by_link.key
    edited = parse_feed("f", rss("f", [dict(items[2], description="other")]).encode(), "https://x.example/").entries[0]
    assert edited.key != by_hash.key


def test_same_guid_in_two_feeds_is_two_entries_but_the_link_is_shared():
    item = {"title": "A", "link": "https://x.example/a?utm_medium=rss#top", "guid": "1"}
    one = parse_feed("one", rss("one", [item]).encode(), "https://x.example/").entries[0]
    two = parse_feed("two", rss("two", [dict(item, link="https://X.EXAMPLE:443/a")]).encode(), "https://x.example/").entries[0]
    assert one.url == two.url == "https://x.example/a"


def test_missing_date_is_none():
    (entry,) = parse_feed("f", rss("f", [{"title": "t", "guid": "1"}]).encode(), "https://x.example/").entries
    assert entry.published is None


@pytest.mark.parametrize("body,reason", [
    (b"<!DOCTYPE html><html><body>Hello</body></html>", "got an HTML page, not a feed"),
    (b"", "empty response"),
    (b"just some text", "not"),
])
def test_bodies_that_are_not_feeds(body, reason):
    with pytest.raises(FeedError, match=reason):
        parse_feed("f", body, "https://x.example/")


def test_a_body_naming_a_local_file_is_not_read_as_that_file(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_text(rss("secret", [{"title": "from disk", "guid": "s"}]))
    with pytest.raises(FeedError):
        parse_feed("f", str(secret).encode(), "https://x.example/")


def test_charset_from_the_declaration():
    body = rss("f", [{"title": "Maßnahmen gegen Exporte", "guid": "1"}]).replace("utf-8", "iso-8859-1").encode("iso-8859-1")
    (entry,) = parse_feed("f", body, "https://x.example/", "application/rss+xml").entries
    assert entry.title == "Maßnahmen gegen Exporte"


@pytest.mark.parametrize("link,expected", [
    ("https://x.example/a?id=3&utm_source=x&fbclid=y", "https://x.example/a?id=3"),
    ("HTTP://X.example:80/a#frag", "http://x.example/a"),
    ("mailto:someone@example.org", None),
    ("javascript:alert(1)", None),
])
def test_normalize_url(link, expected):
    assert normalize_url(link, "https://x.example/") == expected
