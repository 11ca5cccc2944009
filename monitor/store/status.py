"""What the status page, the metrics and the health check read: recent alerts with their evidence,
matches per day, totals, the outbox's depth, and the daemon's heartbeat."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from monitor.models import DeliveryStatus
from monitor.store.base import Database, ts

DAY = 86400


@dataclass(frozen=True)
class Evidence:
    rule: str
    hits: tuple[tuple[str, str], ...]    # (term, snippet)


@dataclass(frozen=True)
class TargetState:
    channel: str
    target: str                 # 'channel#index': the caller masks it into a label
    delivery: int
    status: DeliveryStatus
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class RecentArticle:
    """An article that was alerted, with the evidence and how each of its deliveries stands."""

    id: int
    title: str
    url: str | None
    feed: str
    language: str | None
    first_seen: float
    evidence: tuple[Evidence, ...]
    deliveries: tuple[TargetState, ...]
    feedback: bool | None       # the analyst's verdict, if given


@dataclass(frozen=True)
class Totals:
    read_today: int             # articles read (judged) since midnight UTC
    alerts_today: int           # articles alerted since midnight UTC
    alerts: int                 # articles alerted, ever
    pending: int                # deliveries waiting
    dead: int                   # dead letters


@dataclass(frozen=True)
class OutboxDepth:
    pending: int
    oldest_pending: float | None   # when the oldest waiting alert was written
    dead: int


@dataclass(frozen=True)
class Heartbeat:
    ticked: float
    owner: str


def midnight(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


class StatusQueries(Database):
    def recent_articles(self, limit: int = 30) -> list[RecentArticle]:
        """The latest articles that were alerted, newest first."""
        rows = self._read(
            """SELECT ar.id, ar.title, CASE WHEN ar.url LIKE 'http%' THEN ar.url END, ar.feed, ar.language,
                      ar.first_seen, (SELECT relevant FROM feedback f WHERE f.article_id = ar.id)
               FROM articles ar WHERE ar.id IN (SELECT article_id FROM alerts WHERE article_id IS NOT NULL)
               ORDER BY ar.first_seen DESC, ar.id DESC LIMIT ?""", (limit,))
        if not rows:
            return []
        ids = [row[0] for row in rows]
        marks = ",".join("?" * len(ids))
        evidence: dict[int, list[Evidence]] = {}
        for article_id, rule, hits in self._read(
                f"SELECT article_id, rule, hits FROM matches WHERE article_id IN ({marks}) ORDER BY rule", ids):
            pairs = tuple((str(term), str(snippet)) for term, snippet in json.loads(hits))
            evidence.setdefault(article_id, []).append(Evidence(rule, pairs))
        deliveries: dict[int, list[TargetState]] = {}
        for article_id, channel, target, delivery, status, attempts, last_error in self._read(
                f"""SELECT a.article_id, a.channel, d.target, d.id, d.status, d.attempts, d.last_error
                    FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                    WHERE a.article_id IN ({marks}) ORDER BY a.channel, d.id""", ids):
            deliveries.setdefault(article_id, []).append(
                TargetState(channel, target, delivery, DeliveryStatus(status), attempts, last_error))
        return [RecentArticle(id, title, url, feed, language, first_seen, tuple(evidence.get(id, ())),
                              tuple(deliveries.get(id, ())), None if verdict is None else bool(verdict))
                for id, title, url, feed, language, first_seen, verdict in rows]

    def matches_per_day(self, now: datetime, days: int = 30) -> tuple[list[str], dict[str, list[int]]]:
        """The last ``days`` UTC days (oldest first, as ISO dates) and, per rule, its matches on each."""
        start = midnight(now) - timedelta(days=days - 1)
        labels = [(start + timedelta(days=i)).date().isoformat() for i in range(days)]
        counts: dict[str, list[int]] = {}
        for rule, day, count in self._read(
                """SELECT m.rule, CAST((a.first_seen - ?) / ? AS INTEGER) AS day, count(*)
                   FROM matches m JOIN articles a ON a.id = m.article_id
                   WHERE a.first_seen >= ? GROUP BY m.rule, day""", (ts(start), DAY, ts(start))):
            if 0 <= day < days:
                counts.setdefault(rule, [0] * days)[day] = count
        return labels, dict(sorted(counts.items()))

    def totals(self, now: datetime) -> Totals:
        today = ts(midnight(now))
        ((read_today, alerts_today, alerts, pending, dead),) = self._read(
            """SELECT (SELECT count(*) FROM articles WHERE first_seen >= ? AND status IN ('no_match', 'matched')),
                      (SELECT count(DISTINCT article_id) FROM alerts WHERE created >= ? AND article_id IS NOT NULL),
                      (SELECT count(DISTINCT article_id) FROM alerts WHERE article_id IS NOT NULL),
                      (SELECT count(*) FROM deliveries WHERE status = 'pending'),
                      (SELECT count(*) FROM deliveries WHERE status = 'dead')""", (today, today))
        return Totals(read_today, alerts_today, alerts, pending, dead)

    def outbox_depth(self) -> OutboxDepth:
        ((pending, oldest, dead),) = self._read(
            """SELECT count(*), min(a.created), (SELECT count(*) FROM deliveries WHERE status = 'dead')
               FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.status = 'pending'""")
        return OutboxDepth(pending, oldest, dead)

    # the daemon's heartbeat ---------------------------------------------------------

    def record_heartbeat(self, now: datetime, owner: str) -> None:
        """A tick did its work; this write is also the proof that the database takes writes."""
        with self._write() as db:
            db.execute("""INSERT INTO heartbeat (id, ticked, owner) VALUES (1, ?, ?)
                          ON CONFLICT (id) DO UPDATE SET ticked = excluded.ticked, owner = excluded.owner""",
                       (ts(now), owner))

    def probe_write(self) -> None:
        """Write the heartbeat row as it is: raises StoreError when the database takes no writes.
        (An empty transaction writes nothing, and passes on a read-only file.)"""
        with self._write() as db:
            db.execute("UPDATE heartbeat SET owner = owner WHERE id = 1")

    def heartbeat(self) -> Heartbeat | None:
        rows = self._read("SELECT ticked, owner FROM heartbeat WHERE id = 1")
        return Heartbeat(*rows[0]) if rows else None
