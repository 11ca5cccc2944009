"""The only code that speaks SQL: SQLite, one file, WAL mode, a versioned schema.

Several processes may share the file (``monitor run`` and ``monitor check``,
say). Every write is one short ``BEGIN IMMEDIATE`` transaction, so writers
queue instead of failing, and each unit of work is all-or-nothing:

* an entry, its article, its matches, its alerts and their deliveries are
  written together, or not at all (then the entry is simply new again);
* an entry counts as new only if its row did not exist inside that same
  transaction, so two processes cannot both alert on it;
* deliveries are claimed with a lease before sending and marked sent after.

Times are stored as Unix seconds (REAL), and are handed in by the caller.
A PostgreSQL store for several cooperating instances would replace this package.
"""

from monitor.store.base import copy_database
from monitor.store.feeds import FeedCache, FeedQueries, FeedState, StoredArticle
from monitor.store.outbox import STATUSES, AlertRow, DeliveryRow, OutboxQueries
from monitor.store.status import Heartbeat, OutboxDepth, RecentArticle, StatusQueries, Totals


class Store(FeedQueries, OutboxQueries, StatusQueries):
    """Open (and create or migrate) the database at a path."""


__all__ = ["Store", "copy_database", "AlertRow", "FeedCache", "FeedState", "DeliveryRow", "STATUSES", "StoredArticle",
           "Heartbeat", "OutboxDepth", "RecentArticle", "Totals"]
