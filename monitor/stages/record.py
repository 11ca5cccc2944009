"""Record an entry: the entry, its article, its matches and its alerts, in one transaction.

The last stage: once it returns, the entry is known and its alerts are in the outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime

from monitor import tasks
from monitor.faults import CrashPoints
from monitor.logs import kv
from monitor.models import Alert, ArticleStatus, Entry
from monitor.stages.judge import Judged
from monitor.store import Store

log = logging.getLogger("monitor.pipeline")


class Recorder:
    def __init__(self, store: Store, crash: CrashPoints):
        self.store = store
        self.crash = crash

    def seen(self, entry: Entry, now: datetime, published: datetime, status: ArticleStatus) -> None:
        """An entry not read (too old, a duplicate, or what a new feed held): recorded as seen."""
        self.store.record_entry(entry, now, published, status=status)

    def judged(self, entry: Entry, now: datetime, published: datetime, reading: tasks.PageReading,
               judged: Judged, alerts: list[Alert]) -> bool:
        """An entry read and judged. False when another process recorded it first."""
        matches = judged.matches
        skipped = judged.skipped
        score = max((m.relevance.score for m in matches if m.relevance), default=None)
        stored = self.store.record_entry(
            entry, now, published, status=ArticleStatus.MATCHED if matches else ArticleStatus.NO_MATCH,
            article=judged.article if not skipped or matches else None,
            text_source=None if skipped else reading.source,
            matches=matches, alerts=alerts, kept_text=None if skipped else reading.kept,
            kept_page=reading.kept if skipped else None, score=score,
        )
        if stored and alerts:
            self.crash.reached("after_match")
        if stored and matches:
            log.info(kv("article_matched", feed=entry.feed, url=entry.url, language=judged.article.language,
                        rules=",".join(m.rule for m in matches)))
        return stored
