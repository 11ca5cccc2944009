"""The database schema and its migrations. Only monitor.store uses this.

Each migration is a named function, applied in the same transaction as the
``PRAGMA user_version`` bump that records it, so a database is always at
exactly one version. A database newer than the code is refused, not touched.
The statuses kept in TEXT columns are the values of the enums in monitor.models.
"""

from __future__ import annotations

import sqlite3


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
            last_status   TEXT,                   -- the last poll's HTTP status, or 'error' (FeedStatus.FAILED)
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
            status        TEXT NOT NULL,          -- too_old | first_look | duplicate | no_match | matched
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
            status        TEXT NOT NULL DEFAULT 'pending',   -- DeliveryStatus: pending | sent | dead
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


def _v2(db: sqlite3.Connection) -> None:
    """Notices about feeds (alerts without an article), and the feed's notice state."""
    _script(
        db,
        """
        CREATE TABLE alerts_v2 (
            id            INTEGER PRIMARY KEY,
            article_id    INTEGER REFERENCES articles(id),   -- NULL for a notice about a feed
            kind          TEXT NOT NULL DEFAULT 'article',   -- article | feed_down | feed_up
            channel       TEXT NOT NULL,
            title         TEXT NOT NULL,
            body          TEXT NOT NULL,
            created       REAL NOT NULL,
            UNIQUE (article_id, channel)
        );
        INSERT INTO alerts_v2 (id, article_id, channel, title, body, created)
            SELECT id, article_id, channel, title, body, created FROM alerts;
        DROP TABLE alerts;
        ALTER TABLE alerts_v2 RENAME TO alerts;
        ALTER TABLE feeds ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;  -- a failure notice is out
        CREATE INDEX deliveries_status ON deliveries (status, id)
        """,
    )


def _v3(db: sqlite3.Connection) -> None:
    """The article's text, zlib-compressed, kept for a while so that rules can be tried on it again."""
    _script(
        db,
        """
        ALTER TABLE articles ADD COLUMN text BLOB;
        CREATE INDEX articles_first_seen ON articles (first_seen)
        """,
    )


def _v4(db: sqlite3.Connection) -> None:
    """The page itself, zlib-compressed, for articles not extracted (no rule could match them)."""
    _script(db, "ALTER TABLE articles ADD COLUMN page BLOB")


def _v5(db: sqlite3.Connection) -> None:
    """What the topics read (the feed's summary) and said (the best score), and the analyst's feedback."""
    _script(
        db,
        """
        ALTER TABLE articles ADD COLUMN summary TEXT;
        ALTER TABLE articles ADD COLUMN score REAL;
        CREATE TABLE feedback (
            article_id    INTEGER PRIMARY KEY REFERENCES articles(id),
            relevant      INTEGER NOT NULL,       -- 1 relevant, 0 not relevant
            given         REAL NOT NULL
        )
        """,
    )


def _v6(db: sqlite3.Connection) -> None:
    """When each feed was first polled with success: before that, a feed is new, and its first
    poll records what the feed already holds as seen (unless it is to catch up)."""
    _script(
        db,
        """
        ALTER TABLE feeds ADD COLUMN first_polled REAL;
        UPDATE feeds SET first_polled = last_checked
            WHERE EXISTS (SELECT 1 FROM entries e WHERE e.feed = feeds.name)
        """,
    )


def _v7(db: sqlite3.Connection) -> None:
    """The daemon's heartbeat: when its clock last ticked and wrote, for ``monitor healthcheck``."""
    _script(
        db,
        """
        CREATE TABLE heartbeat (
            id            INTEGER PRIMARY KEY CHECK (id = 1),   -- one row: the latest tick
            ticked        REAL NOT NULL,
            owner         TEXT NOT NULL                         -- host:pid of the daemon that wrote it
        )
        """,
    )


MIGRATIONS = (
    (1, "initial schema", _v1),
    (2, "feed notices", _v2),
    (3, "article text", _v3),
    (4, "article page", _v4),
    (5, "summaries, scores and feedback", _v5),
    (6, "first poll of a feed", _v6),
    (7, "heartbeat", _v7),
)
