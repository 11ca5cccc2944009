"""Feed parsing: entries, identities, links and dates."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from content import atom, rss

from monitor.dates import parse_localized
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


@pytest.mark.parametrize("text,expected", [
    ("mer, 16 nov 2022 10:00:00 +0100", datetime(2022, 11, 16, 9, 0, tzinfo=timezone.utc)),
    ("Seg, 24 Set 2018 18:40:00 -0300", datetime(2018, 9, 24, 21, 40, tzinfo=timezone.utc)),
    ("Mi, 16 Dez 2026 08:15:00 GMT", datetime(2026, 12, 16, 8, 15, tzinfo=timezone.utc)),
    ("jeu., 12 févr. 2026 07:30:00 +0000", datetime(2026, 2, 12, 7, 30, tzinfo=timezone.utc)),
    ("1 juil. 2026 12:00", datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)),
    ("3 juin 2026", datetime(2026, 6, 3, tzinfo=timezone.utc)),
    ("di, 3 mrt 2026 10:00:00 +0100", datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)),
])
def test_localized_dates(text, expected):
    assert parse_localized(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "32 nov 2022", "16 foo 2022 10:00"])
def test_not_dates(text):
    assert parse_localized(text) is None


def test_localized_dates_in_a_feed():
    body = rss("f", [{"title": "t", "guid": "1"}]).replace("<guid", "<pubDate>mer, 16 nov 2022 10:00:00 +0100</pubDate><guid")
    (entry,) = parse_feed("f", body.encode(), "https://x.example/").entries
    assert entry.published == datetime(2022, 11, 16, 9, 0, tzinfo=timezone.utc)


def test_json_feed():
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Wire", "language": "en-GB",
        "items": [
            {"id": "1", "url": "https://x.example/a?utm_source=j", "title": "Entity List grows",
             "content_html": "<p>Six firms were <b>added</b>.</p>", "date_published": "2026-11-20T09:30:00+01:00"},
            {"id": 2, "content_text": "No link, no title."},
            "not an item",
        ],
    }).encode()
    feed = parse_feed("wire", body, "https://x.example/feed.json")
    assert feed.title == "Wire" and feed.language == "en"
    first, second = feed.entries
    assert first.url == "https://x.example/a" and first.summary == "Six firms were added."
    assert first.published == datetime(2026, 11, 20, 8, 30, tzinfo=timezone.utc)
    assert second.url is None and second.summary == "No link, no title." and second.published is None
    with pytest.raises(FeedError, match="not a JSON Feed"):
        parse_feed("x", b'{"hello": "world"}', "https://x.example/")
