"""The outbox: one delivery row per alert and target, claimed with a lease, marked sent after.

A sender claims rows in one IMMEDIATE transaction, so two processes never
claim the same row. A claim is a lease: if its holder dies (kill -9), the row
becomes claimable again when the lease runs out, and is sent again; that is
the one duplicate the outbox allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from monitor.models import Delivery, DeliveryStatus
from monitor.store.base import Database, ts

STATUSES = tuple(DeliveryStatus)


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as ``monitor alerts`` and ``monitor check`` report it."""

    id: int
    kind: str
    channel: str
    target: str
    title: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created: float
    next_attempt: float
    sent_at: float | None


@dataclass(frozen=True)
class AlertRow:
    """An alert as ``monitor alerts`` lists it: what it is about, and how each of its deliveries stands."""

    id: int
    kind: str                   # article | feed_down | feed_up
    channel: str
    title: str                  # the article's own title (the alert's, for a notice about a feed)
    url: str | None             # the article's link, if it has one
    feed: str | None
    rules: tuple[str, ...]      # the rules the article matched
    created: float
    deliveries: tuple[DeliveryRow, ...]


class OutboxQueries(Database):
    def claim_deliveries(
        self, now: datetime, lease: timedelta, owner: str, *,
        due_by: datetime | None = None, after_id: int = 0, limit: int = 100,
    ) -> list[Delivery]:
        """Lease to ``owner`` the pending deliveries due by ``due_by`` (default: now), in id order
        after ``after_id``."""
        with self._write() as db:
            rows = db.execute(
                """SELECT d.id, a.channel, d.target, a.title, a.body, d.attempts + 1, a.created
                   FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                   WHERE d.status = 'pending' AND d.next_attempt <= ? AND d.id > ?
                     AND (d.claimed_until IS NULL OR d.claimed_until < ?)
                   ORDER BY d.id LIMIT ?""",
                (ts(due_by or now), after_id, ts(now), limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 WHERE id = ?",
                [(owner, ts(now + lease), row[0]) for row in rows],
            )
        return [Delivery(*row) for row in rows]

    def mark_sent(self, delivery_id: int, owner: str, now: datetime) -> None:
        with self._write() as db:
            db.execute(
                """UPDATE deliveries SET status = 'sent', sent_at = ?, last_error = NULL,
                     claimed_by = NULL, claimed_until = NULL
                   WHERE id = ? AND claimed_by = ?""",
                (ts(now), delivery_id, owner),
            )

    def mark_failed(
        self, delivery_id: int, owner: str, error: str, next_attempt: datetime, *, dead: bool = False
    ) -> None:
        with self._write() as db:
            db.execute(
                """UPDATE deliveries SET status = ?, last_error = ?, next_attempt = ?,
                     claimed_by = NULL, claimed_until = NULL
                   WHERE id = ? AND claimed_by = ?""",
                (DeliveryStatus.DEAD if dead else DeliveryStatus.PENDING, error, ts(next_attempt), delivery_id, owner),
            )

    def release_claims(self, delivery_ids: Sequence[int], owner: str, *, next_attempt: datetime | None = None) -> None:
        """Give back claims that were not tried: the attempt does not count. They are due
        at once, or at ``next_attempt`` (when their target just failed)."""
        with self._write() as db:
            db.executemany(
                """UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL, attempts = attempts - 1,
                     next_attempt = coalesce(?, next_attempt)
                   WHERE id = ? AND claimed_by = ?""",
                [(None if next_attempt is None else ts(next_attempt), i, owner) for i in delivery_ids],
            )

    def pending_targets(self) -> list[tuple[str, str]]:
        """(target, channel) of every pending delivery, once each."""
        return self._read(
            """SELECT DISTINCT d.target, a.channel FROM deliveries d JOIN alerts a ON a.id = d.alert_id
               WHERE d.status = 'pending' ORDER BY d.target""")

    def bury_target(self, target: str, error: str, now: datetime) -> list[int]:
        """Make every pending delivery to ``target`` that no live sender holds a dead letter, at once;
        returns their ids."""
        with self._write() as db:
            rows = db.execute(
                """UPDATE deliveries SET status = 'dead', last_error = ?, claimed_by = NULL, claimed_until = NULL
                   WHERE target = ? AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)
                   RETURNING id""",
                (error, target, ts(now)),
            ).fetchall()
        return sorted(id for (id,) in rows)

    def claim_holders(self) -> list[str]:
        return [owner for (owner,) in self._read(
            "SELECT DISTINCT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL AND status = 'pending'")]

    def release_owner(self, owner: str) -> int:
        """Free every claim of a sender that is gone; the attempt it was making still counts."""
        with self._write() as db:
            return db.execute(
                "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?", (owner,)
            ).rowcount

    def deliveries(self, statuses: Sequence[DeliveryStatus] = STATUSES, *, ids: Sequence[int] | None = None,
                   limit: int | None = None) -> list[DeliveryRow]:
        """Deliveries in these statuses (and among these ids), newest first (all without ``limit``)."""
        where = f"d.status IN ({','.join('?' * len(statuses))})"
        if ids is not None:
            where += f" AND d.id IN ({','.join('?' * len(ids))})"
        rows = self._read(
            f"""SELECT d.id, a.kind, a.channel, d.target, a.title, d.status, d.attempts, d.last_error,
                       a.created, d.next_attempt, d.sent_at
                FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                WHERE {where} ORDER BY d.id DESC LIMIT ?""",
            (*statuses, *(ids or ()), -1 if limit is None else limit),
        )
        return [_delivery_row(row) for row in rows]

    def alert_rows(self, statuses: Sequence[DeliveryStatus] = STATUSES, *, rule: str | None = None,
                   feed: str | None = None, since: datetime | None = None, limit: int | None = None
                   ) -> list[AlertRow]:
        """Alerts with a delivery in these statuses (and of this rule, from this feed, written since),
        newest first."""
        where = [f"""EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id
                             AND d.status IN ({','.join('?' * len(statuses))}))"""]
        params: list[object] = list(statuses)
        if rule is not None:
            where.append("EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.article_id AND m.rule = ?)")
            params.append(rule)
        if feed is not None:
            where.append("ar.feed = ?")
            params.append(feed)
        if since is not None:
            where.append("a.created >= ?")
            params.append(ts(since))
        alerts = self._read(
            f"""SELECT a.id, a.kind, a.channel, coalesce(nullif(ar.title, ''), a.title),
                       CASE WHEN ar.url LIKE 'http%' THEN ar.url END, ar.feed,
                       (SELECT group_concat(rule, char(31)) FROM matches m WHERE m.article_id = a.article_id),
                       a.created
                FROM alerts a LEFT JOIN articles ar ON ar.id = a.article_id
                WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT ?""",
            (*params, -1 if limit is None else limit),
        )
        if not alerts:
            return []
        ids = [row[0] for row in alerts]
        deliveries: dict[int, list[DeliveryRow]] = {}
        for alert_id, *row in self._read(
            f"""SELECT d.alert_id, d.id, a.kind, a.channel, d.target, a.title, d.status, d.attempts, d.last_error,
                       a.created, d.next_attempt, d.sent_at
                FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                WHERE d.alert_id IN ({','.join('?' * len(ids))}) ORDER BY d.id""", ids):
            deliveries.setdefault(alert_id, []).append(_delivery_row(row))
        return [AlertRow(id, kind, channel, title, url, feed, tuple(sorted(rules.split(chr(31)))) if rules else (),
                         created, tuple(deliveries.get(id, ())))
                for id, kind, channel, title, url, feed, rules, created in alerts]

    def retry_dead(self, now: datetime, ids: Sequence[int] = ()) -> int:
        """Put dead deliveries (all, or these) back in the queue, due now, with a fresh count of attempts."""
        with self._write() as db:
            where = "status = 'dead'" + (f" AND id IN ({','.join('?' * len(ids))})" if ids else "")
            cursor = db.execute(
                f"UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt = ? WHERE {where}",
                (ts(now), *ids),
            )
            return cursor.rowcount


def _delivery_row(row: Sequence[Any]) -> DeliveryRow:
    id, kind, channel, target, title, status, *rest = row
    return DeliveryRow(id, kind, channel, target, title, DeliveryStatus(status), *rest)
