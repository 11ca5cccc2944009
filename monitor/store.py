"""The only module that speaks SQL. SQLite, one file, WAL mode, versioned schema.

Several processes may share the file (``monitor run`` and ``monitor check``,
say). Every write is one short ``BEGIN IMMEDIATE`` transaction, so writers
queue instead of failing, and each unit of work is all-or-nothing:

* an entry, its article, its matches, its alerts and their deliveries are
  written together, or not at all (then the entry is simply new again);
* an entry counts as new only if its row did not exist inside that same
  transaction, so two processes cannot both alert on it;
* deliveries are claimed with a lease before sending and marked sent after.

Times are stored as Unix seconds (REAL), and are handed in by the caller.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from monitor.config import FeedConfig
from monitor.errors import StoreError
from monitor.models import Alert, Article, Delivery, Entry, Match

BUSY_TIMEOUT = 30.0   # seconds a writer waits for another process's transaction


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run DDL statements inside the caller's transaction (executescript would commit it)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE feeds (
            name          TEXT PRIMARY KEY,
            url           TEXT NOT NULL,
            active        INTEGER NOT NULL DEFAULT 1,
            etag          TEXT,
            last_modified TEXT,
            next_check    REAL NOT NULL DEFAULT 0,
            last_checked  REAL,
            last_status   TEXT,
            errors        INTEGER NOT NULL DEFAULT 0,
            last_error    TEXT
        );
        CREATE TABLE articles (
            id            INTEGER PRIMARY KEY,
            url           TEXT NOT NULL UNIQUE,   -- normalised link, or 'entry:<feed>:<key>'
            feed          TEXT NOT NULL,
            title         TEXT NOT NULL,
            published     REAL NOT NULL,
            first_seen    REAL NOT NULL,
            status        TEXT NOT NULL,          -- too_old | no_match | matched
            language      TEXT,
            language_confidence REAL,
            text_source   TEXT                    -- page | feed | NULL when not read
        );
        CREATE TABLE entries (
            feed          TEXT NOT NULL,
            key           TEXT NOT NULL,
            article_id    INTEGER NOT NULL REFERENCES articles(id),
            first_seen    REAL NOT NULL,
            PRIMARY KEY (feed, key)
        ) WITHOUT ROWID;
        CREATE TABLE matches (
            article_id    INTEGER NOT NULL REFERENCES articles(id),
            rule          TEXT NOT NULL,
            hits          TEXT NOT NULL,          -- JSON [[term, snippet], ...]
            PRIMARY KEY (article_id, rule)
        ) WITHOUT ROWID;
        CREATE TABLE alerts (
            id            INTEGER PRIMARY KEY,
            article_id    INTEGER NOT NULL REFERENCES articles(id),
            channel       TEXT NOT NULL,
            title         TEXT NOT NULL,
            body          TEXT NOT NULL,
            created       REAL NOT NULL,
            UNIQUE (article_id, channel)
        );
        CREATE TABLE deliveries (
            id            INTEGER PRIMARY KEY,
            alert_id      INTEGER NOT NULL REFERENCES alerts(id),
            target        TEXT NOT NULL,          -- 'channel#index', never the URL itself
            status        TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | dead
            attempts      INTEGER NOT NULL DEFAULT 0,
            next_attempt  REAL NOT NULL,
            claimed_by    TEXT,
            claimed_until REAL,
            last_error    TEXT,
            sent_at       REAL,
            UNIQUE (alert_id, target)
        );
        CREATE INDEX deliveries_due ON deliveries (status, next_attempt);
        """
    )


MIGRATIONS = ((1, "initial schema", _v1),)


@dataclass(frozen=True)
class FeedCache:
    etag: str | None
    last_modified: str | None
    errors: int


@dataclass(frozen=True)
class Undelivered:
    id: int
    channel: str
    target: str
    title: str
    status: str
    attempts: int
    last_error: str | None


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def _read(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: {exc}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: other writers wait for it, readers never do."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: {exc}") from None
        try:
            yield self._db
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise StoreError(f"database {self.path}: {exc}") from exc
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise StoreError(f"database {self.path}: {exc}") from None

    def _migrate(self) -> None:
        latest = MIGRATIONS[-1][0]
        with self._write() as db:
            current = db.execute("PRAGMA user_version").fetchone()[0]
            if current > latest:
                raise StoreError(
                    f"database {self.path} has schema version {current}; this monitor knows up to {latest}"
                )
            for version, _name, migrate in MIGRATIONS:
                if version > current:
                    migrate(db)
                    db.execute(f"PRAGMA user_version = {version:d}")

    # feeds -----------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[FeedConfig]) -> None:
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
        rows = self._read("SELECT etag, last_modified, errors FROM feeds WHERE name = ?", (name,))
        return FeedCache(*rows[0]) if rows else FeedCache(None, None, 0)

    def due_feeds(self, now: datetime) -> list[str]:
        rows = self._read("SELECT name FROM feeds WHERE active = 1 AND next_check <= ? ORDER BY next_check", (_ts(now),))
        return [name for (name,) in rows]

    def claim_feed(self, name: str, now: datetime, until: datetime) -> bool:
        """Take a due feed for polling; False if another process was first."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE feeds SET next_check = ? WHERE name = ? AND next_check <= ?", (_ts(until), name, _ts(now))
            )
            return cursor.rowcount == 1

    def record_poll(
        self,
        name: str,
        now: datetime,
        next_check: datetime,
        *,
        status: str,
        error: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        cache: bool = False,
    ) -> None:
        """Store a poll's outcome. ``cache`` replaces the validators (after a 200 whose entries are stored)."""
        with self._write() as db:
            if error is None:
                db.execute(
                    """UPDATE feeds SET last_checked = ?, last_status = ?, next_check = ?, errors = 0, last_error = NULL,
                         etag = CASE WHEN ? THEN ? ELSE etag END,
                         last_modified = CASE WHEN ? THEN ? ELSE last_modified END
                       WHERE name = ?""",
                    (_ts(now), status, _ts(next_check), cache, etag, cache, last_modified, name),
                )
            else:
                db.execute(
                    """UPDATE feeds SET last_checked = ?, last_status = ?, next_check = ?,
                         errors = errors + 1, last_error = ? WHERE name = ?""",
                    (_ts(now), status, _ts(next_check), error, name),
                )

    # entries and articles --------------------------------------------------

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
        status: str,
        article: Article | None = None,
        text_source: str | None = None,
        matches: Sequence[Match] = (),
        alerts: Sequence[Alert] = (),
    ) -> bool:
        """Write an entry with everything that follows from it. False if it was already known."""
        url = entry.url or f"entry:{entry.feed}:{entry.key}"
        with self._write() as db:
            if db.execute("SELECT 1 FROM entries WHERE feed = ? AND key = ?", (entry.feed, entry.key)).fetchone():
                return False
            row = db.execute(
                """INSERT INTO articles (url, feed, title, published, first_seen, status,
                                         language, language_confidence, text_source)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING RETURNING id""",
                (
                    url, entry.feed, entry.title, _ts(published), _ts(now), status,
                    article.language if article else None,
                    article.language_confidence if article else None,
                    text_source,
                ),
            ).fetchone()
            fresh = row is not None
            article_id = row[0] if fresh else db.execute("SELECT id FROM articles WHERE url = ?", (url,)).fetchone()[0]
            db.execute(
                "INSERT INTO entries (feed, key, article_id, first_seen) VALUES (?, ?, ?, ?)",
                (entry.feed, entry.key, article_id, _ts(now)),
            )
            if not fresh:
                return False   # the same article reached us through another feed first
            for match in matches:
                hits = json.dumps([[hit.term, hit.snippet] for hit in match.hits], ensure_ascii=False)
                db.execute("INSERT INTO matches (article_id, rule, hits) VALUES (?, ?, ?)", (article_id, match.rule, hits))
            for alert in alerts:
                alert_id = db.execute(
                    "INSERT INTO alerts (article_id, channel, title, body, created) VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (article_id, alert.channel, alert.title, alert.body, _ts(now)),
                ).fetchone()[0]
                db.executemany(
                    "INSERT INTO deliveries (alert_id, target, next_attempt) VALUES (?, ?, ?)",
                    [(alert_id, target, _ts(now)) for target in alert.targets],
                )
            return True

    # the outbox ------------------------------------------------------------

    def claim_deliveries(
        self, now: datetime, lease: timedelta, owner: str, *,
        due_by: datetime | None = None, after_id: int = 0, limit: int = 100,
    ) -> list[Delivery]:
        """Lease to ``owner`` the pending deliveries due by ``due_by`` (default: now), in id order after ``after_id``."""
        due = _ts(due_by or now)
        with self._write() as db:
            rows = db.execute(
                """SELECT d.id, a.channel, d.target, a.title, a.body, d.attempts + 1
                   FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                   WHERE d.status = 'pending' AND d.next_attempt <= ? AND d.id > ?
                     AND (d.claimed_until IS NULL OR d.claimed_until < ?)
                   ORDER BY d.id LIMIT ?""",
                (due, after_id, _ts(now), limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 WHERE id = ?",
                [(owner, _ts(now + lease), row[0]) for row in rows],
            )
        return [Delivery(*row) for row in rows]

    def mark_sent(self, delivery_id: int, owner: str, now: datetime) -> None:
        with self._write() as db:
            db.execute(
                """UPDATE deliveries SET status = 'sent', sent_at = ?, last_error = NULL,
                     claimed_by = NULL, claimed_until = NULL
                   WHERE id = ? AND claimed_by = ?""",
                (_ts(now), delivery_id, owner),
            )

    def mark_failed(
        self, delivery_id: int, owner: str, error: str, next_attempt: datetime, *, dead: bool = False
    ) -> None:
        with self._write() as db:
            db.execute(
                """UPDATE deliveries SET status = ?, last_error = ?, next_attempt = ?,
                     claimed_by = NULL, claimed_until = NULL
                   WHERE id = ? AND claimed_by = ?""",
                ("dead" if dead else "pending", error, _ts(next_attempt), delivery_id, owner),
            )

    def release_claims(self, delivery_ids: Sequence[int], owner: str) -> None:
        """Give back claims that will not be sent now, so another sender can take them at once."""
        with self._write() as db:
            db.executemany(
                """UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL, attempts = attempts - 1
                   WHERE id = ? AND claimed_by = ?""",
                [(i, owner) for i in delivery_ids],
            )

    def undelivered(self, *, include_dead: bool = False) -> list[Undelivered]:
        statuses = ("pending", "dead") if include_dead else ("pending",)
        rows = self._read(
            f"""SELECT d.id, a.channel, d.target, a.title, d.status, d.attempts, d.last_error
                FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                WHERE d.status IN ({','.join('?' * len(statuses))}) ORDER BY d.id""",
            statuses,
        )
        return [Undelivered(*row) for row in rows]


def _ts(moment: datetime) -> float:
    return moment.timestamp()

