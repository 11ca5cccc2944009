"""Feeds, their poll state, and the entries and articles they bring."""

from __future__ import annotations

import json
import sqlite3
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from monitor.feed import Feed
from monitor.models import Alert, Article, ArticleStatus, Entry, FeedStatus, Match
from monitor.store.base import Database, ts


@dataclass(frozen=True)
class FeedState:
    """A feed's poll state, as ``monitor check`` reports a feed it left alone."""

    name: str
    next_check: float
    last_checked: float | None
    last_status: str | None
    errors: int                 # consecutive failures
    last_error: str | None
    entries: int = 0            # entries known (only from feed_overview)


@dataclass(frozen=True)
class FeedCache:
    etag: str | None
    last_modified: str | None
    errors: int
    first_polled: float | None = None   # None: the feed was never polled with success (it is new)


def insert_alert(db: sqlite3.Connection, alert: Alert, now: datetime, *,
                 article_id: int | None = None, kind: str = "article") -> None:
    """An alert and one pending delivery per target, inside the caller's transaction."""
    alert_id = db.execute(
        "INSERT INTO alerts (article_id, kind, channel, title, body, created) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (article_id, kind, alert.channel, alert.title, alert.body, ts(now)),
    ).fetchone()[0]
    db.executemany(
        "INSERT INTO deliveries (alert_id, target, next_attempt) VALUES (?, ?, ?)",
        [(alert_id, target, ts(now)) for target in alert.targets],
    )


@dataclass(frozen=True)
class StoredArticle:
    id: int
    url: str
    feed: str
    title: str
    published: float
    language: str | None
    language_confidence: float
    text: str | None        # the text the rules saw, or...
    page: bytes | None      # ...the page, when it was not extracted (no rule could match it then)
    rules: frozenset[str]   # the rules it matched when it was read
    summary: str = ""       # the feed's own text for it (what topics read first)


_ARTICLE = """a.id, a.url, a.feed, a.title, a.published, a.language, a.language_confidence, a.text, a.page,
               (SELECT group_concat(rule, char(31)) FROM matches m WHERE m.article_id = a.id), a.summary"""


def _stored(row: tuple[Any, ...]) -> StoredArticle:
    id, url, feed, title, published, language, confidence, text, page, rules, summary = row
    return StoredArticle(id, url, feed, title, published, language, confidence or 0.0,
                         zlib.decompress(text).decode("utf-8") if text is not None else None,
                         zlib.decompress(page) if page is not None else None,
                         frozenset(rules.split(chr(31)) if rules else ()), summary or "")


class FeedQueries(Database):
    def sync_feeds(self, feeds: Sequence[Feed]) -> None:
        """Make the feeds table follow the config; a changed URL forgets its cache."""
        with self._write() as db:
            db.execute("UPDATE feeds SET active = 0")
            for feed in feeds:
                db.execute(
                    """INSERT INTO feeds (name, url) VALUES (?, ?)
                       ON CONFLICT (name) DO UPDATE SET active = 1,
                         etag = CASE WHEN url = excluded.url THEN etag END,
                         last_modified = CASE WHEN url = excluded.url THEN last_modified END,
                         url = excluded.url""",
                    (feed.name, feed.url),
                )

    def feed_cache(self, name: str) -> FeedCache:
        rows = self._read("SELECT etag, last_modified, errors, first_polled FROM feeds WHERE name = ?", (name,))
        return FeedCache(*rows[0]) if rows else FeedCache(None, None, 0)

    def due_feeds(self, now: datetime) -> list[str]:
        rows = self._read("SELECT name FROM feeds WHERE active = 1 AND next_check <= ? ORDER BY next_check", (ts(now),))
        return [name for (name,) in rows]

    def claim_feed(self, name: str, now: datetime, until: datetime) -> bool:
        """Take a due feed for polling; False if another process was first."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE feeds SET next_check = ? WHERE name = ? AND next_check <= ?", (ts(until), name, ts(now))
            )
            return cursor.rowcount == 1

    def feed_states(self, names: Sequence[str]) -> list[FeedState]:
        if not names:
            return []
        rows = self._read(
            f"""SELECT name, next_check, last_checked, last_status, errors, last_error FROM feeds
                WHERE name IN ({','.join('?' * len(names))}) ORDER BY next_check""", tuple(names))
        return [FeedState(*row) for row in rows]

    def feed_overview(self) -> list[FeedState]:
        """Every feed in the config (the active ones), with the count of entries it brought."""
        rows = self._read(
            """SELECT f.name, f.next_check, f.last_checked, f.last_status, f.errors, f.last_error,
                      (SELECT count(*) FROM entries e WHERE e.feed = f.name)
               FROM feeds f WHERE f.active = 1 ORDER BY f.name""")
        return [FeedState(*row) for row in rows]

    def next_poll(self) -> FeedState | None:
        """The active feed due first."""
        rows = self._read(
            """SELECT name, next_check, last_checked, last_status, errors, last_error FROM feeds
               WHERE active = 1 ORDER BY next_check LIMIT 1""")
        return FeedState(*rows[0]) if rows else None

    def reschedule(self, name: str, next_check: datetime) -> None:
        """Make a feed due at ``next_check`` without recording a poll (an interrupted one, say)."""
        with self._write() as db:
            db.execute("UPDATE feeds SET next_check = ? WHERE name = ?", (ts(next_check), name))

    def record_success(
        self, name: str, now: datetime, next_check: datetime, *, status: str, recovered: Sequence[Alert] = (),
        etag: str | None = None, last_modified: str | None = None, cache: bool = False,
    ) -> bool:
        """A poll that worked. ``cache`` replaces the validators (after a 200 whose entries are stored).
        If a failure notice was out, the ``recovered`` notices are queued; returns True then."""
        with self._write() as db:
            (notified,) = db.execute("SELECT notified FROM feeds WHERE name = ?", (name,)).fetchone()
            db.execute(
                """UPDATE feeds SET last_checked = ?, last_status = ?, next_check = ?, errors = 0, last_error = NULL,
                     notified = 0, first_polled = coalesce(first_polled, ?),
                     etag = CASE WHEN ? THEN ? ELSE etag END,
                     last_modified = CASE WHEN ? THEN ? ELSE last_modified END
                   WHERE name = ?""",
                (ts(now), status, ts(next_check), ts(now), cache, etag, cache, last_modified, name),
            )
            if notified:
                for alert in recovered:
                    insert_alert(db, alert, now, kind="feed_up")
            return bool(notified)

    def record_failure(
        self, name: str, now: datetime, next_check: datetime, *, error: str,
        notice_after: int = 0, notice: Sequence[Alert] = (),
    ) -> int:
        """A poll that failed; returns the count of consecutive failures. When it reaches
        ``notice_after`` (and no notice is out yet) the ``notice`` alerts are queued, once."""
        with self._write() as db:
            (errors, notified) = db.execute(
                """UPDATE feeds SET last_checked = ?, last_status = ?, next_check = ?,
                     errors = errors + 1, last_error = ? WHERE name = ? RETURNING errors, notified""",
                (ts(now), FeedStatus.FAILED, ts(next_check), error, name),
            ).fetchone()
            if notice_after and errors >= notice_after and not notified:
                db.execute("UPDATE feeds SET notified = 1 WHERE name = ?", (name,))
                for alert in notice:
                    insert_alert(db, alert, now, kind="feed_down")
            return int(errors)

    def known_entries(self, feed: str, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        known: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self._read(
                f"SELECT key FROM entries WHERE feed = ? AND key IN ({','.join('?' * len(chunk))})", (feed, *chunk)
            )
            known.update(key for (key,) in rows)
        return known

    def known_article(self, url: str) -> bool:
        return bool(self._read("SELECT 1 FROM articles WHERE url = ?", (url,)))

    def record_entry(
        self,
        entry: Entry,
        now: datetime,
        published: datetime,
        *,
        status: ArticleStatus,
        article: Article | None = None,
        text_source: str | None = None,
        matches: Sequence[Match] = (),
        alerts: Sequence[Alert] = (),
        kept_text: bytes | None = None,
        kept_page: bytes | None = None,
        score: float | None = None,
    ) -> bool:
        """Write an entry with everything that follows from it. False if it was already known.
        ``kept_text`` / ``kept_page``: the compressed text the rules saw, or the page not extracted.
        ``score``: the best topic score it was given, if any topic judged it."""
        url = entry.url or f"entry:{entry.feed}:{entry.key}"
        with self._write() as db:
            if db.execute("SELECT 1 FROM entries WHERE feed = ? AND key = ?", (entry.feed, entry.key)).fetchone():
                return False
            row = db.execute(
                """INSERT INTO articles (url, feed, title, published, first_seen, status,
                                         language, language_confidence, text_source, text, page, summary, score)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING RETURNING id""",
                (
                    url, entry.feed, entry.title, ts(published), ts(now), status,
                    article.language if article else None,
                    article.language_confidence if article else None,
                    text_source, kept_text, kept_page,
                    entry.summary if status not in (ArticleStatus.TOO_OLD, ArticleStatus.FIRST_LOOK) else None, score,
                ),
            ).fetchone()
            fresh = row is not None
            article_id = row[0] if fresh else db.execute("SELECT id FROM articles WHERE url = ?", (url,)).fetchone()[0]
            db.execute(
                "INSERT INTO entries (feed, key, article_id, first_seen) VALUES (?, ?, ?, ?)",
                (entry.feed, entry.key, article_id, ts(now)),
            )
            if not fresh:
                return False   # the same article reached us through another feed first
            for match in matches:
                hits = json.dumps([[hit.term, hit.snippet] for hit in match.hits], ensure_ascii=False)
                db.execute("INSERT INTO matches (article_id, rule, hits) VALUES (?, ?, ?)",
                           (article_id, match.rule, hits))
            for alert in alerts:
                insert_alert(db, alert, now, article_id=article_id)
            return True

    def prune_text(self, before: datetime) -> int:
        """Forget the text (or page) of articles first seen before ``before``; their records stay."""
        with self._write() as db:
            return db.execute(
                """UPDATE articles SET text = NULL, page = NULL
                   WHERE (text IS NOT NULL OR page IS NOT NULL) AND first_seen < ?""", (ts(before),)
            ).rowcount

    def stored_articles(self, since: datetime) -> list[StoredArticle]:
        """Articles first seen since ``since`` whose text is still kept, with the rules they matched."""
        rows = self._read(
            f"""SELECT {_ARTICLE} FROM articles a WHERE (a.text IS NOT NULL OR a.page IS NOT NULL) AND a.first_seen >= ?
                ORDER BY a.first_seen""",
            (ts(since),),
        )
        return [_stored(row) for row in rows]

    # feedback ------------------------------------------------------------------

    def find_article(self, ref: str) -> StoredArticle | None:
        """An article by its id (as alerts show it) or its link."""
        column = "a.id" if ref.isdigit() else "a.url"
        key: int | str = int(ref) if ref.isdigit() else ref
        rows = self._read(f"SELECT {_ARTICLE} FROM articles a WHERE {column} = ?", (key,))
        return _stored(rows[0]) if rows else None

    def record_feedback(self, article_id: int, relevant: bool, now: datetime) -> bool:
        """The analyst's word on an article; the latest counts. True when it replaced an earlier one."""
        with self._write() as db:
            earlier = db.execute("SELECT 1 FROM feedback WHERE article_id = ?", (article_id,)).fetchone()
            db.execute("""INSERT INTO feedback (article_id, relevant, given) VALUES (?, ?, ?)
                          ON CONFLICT (article_id) DO UPDATE
                          SET relevant = excluded.relevant, given = excluded.given""",
                       (article_id, int(relevant), ts(now)))
            return earlier is not None

    def feedback(self) -> list[tuple[StoredArticle, bool]]:
        """Every article the analyst judged, oldest judgement first, with the judgement."""
        rows = self._read(f"""SELECT {_ARTICLE}, f.relevant FROM feedback f JOIN articles a ON a.id = f.article_id
                              ORDER BY f.given, f.article_id""")
        return [(_stored(row[:-1]), bool(row[-1])) for row in rows]
